// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM's ${…} syntax is test data here, not a template
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FailClosedError, ValidationError } from '../../lambdas/core/errors.js';
import { iamCatalog } from '../../lambdas/core/iam-catalog.js';
import { buildSessionPolicy } from '../../lambdas/core/session-policy.js';
import { validateAccessRequest } from '../../lambdas/core/validate-request.js';

/**
 * Whatever real action and real ARN an agent names — across every service in the catalog — the
 * session policy that comes out grants that and nothing wider: no wildcard, no NotAction or
 * NotResource, no policy variable. And whatever hostile text is slipped into an ARN, either
 * validation refuses it or the policy is still exact.
 */

const catalog = iamCatalog();
const NOT_AFTER = '2030-01-31T12:15:00Z';
const REGIONS = {
  aws: ['us-east-1', 'eu-west-2', 'ap-southeast-7'],
  'aws-cn': ['cn-north-1'],
  'aws-us-gov': ['us-gov-west-1'],
};
const TOKEN = /\$\{[A-Za-z0-9_]+\}|\*/g;

interface Target {
  service: string;
  region: string;
  account: string;
  resource: string;
  actions: string[];
}

// Every resource type that some action can be granted on, with the ARN template(s) to fill in.
const targets: Target[] = [];
for (const service of catalog.serviceNames()) {
  const actionsByType = new Map<string, string[]>();
  for (const action of catalog.actionsOf(service)) {
    for (const type of action.resourceTypes)
      actionsByType.set(type.id, [...(actionsByType.get(type.id) ?? []), action.action]);
  }
  for (const type of catalog.resourceTypesOf(service)) {
    const actions = actionsByType.get(type.id);
    if (!actions) continue;
    for (const template of type.arnTemplates) {
      const [, , arnService = '', region = '', account = '', ...rest] = template.split(':');
      // Templates whose service is a variable, or whose account is AWS's own ("aws"), name nothing an
      // agent could be granted.
      if (arnService.includes('${') || !/^(?:\$\{\w+\}|\*|\d{12}|)$/.test(account)) continue;
      targets.push({ service: arnService, region, account, resource: rest.join(':'), actions });
    }
  }
}

const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,15}$/);
const lastName = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_./-]{0,30}$/);
const account = fc.stringMatching(/^\d{12}$/);
const partitionAndRegion = fc.constantFrom(
  ...Object.entries(REGIONS).flatMap(([partition, regions]) =>
    regions.map((region) => [partition, region] as const),
  ),
);

/** Fills a template's variables, drawing each from `value` (the last one from `last`). */
function fill(
  resource: string,
  value: fc.Arbitrary<string>,
  last: fc.Arbitrary<string>,
): fc.Arbitrary<string> {
  const tokens = resource.match(TOKEN) ?? [];
  const parts = resource.split(TOKEN);
  const values = tokens.map((_, i) =>
    i === tokens.length - 1 && resource.endsWith(tokens[i]!) ? last : value,
  );
  return fc
    .tuple(...values)
    .map((filled) => parts.reduce((out, part, i) => out + part + (filled[i] ?? ''), ''));
}

function arnFor(target: Target, value: fc.Arbitrary<string>, last: fc.Arbitrary<string>) {
  return fc
    .record({ where: partitionAndRegion, account, resource: fill(target.resource, value, last) })
    .map(({ where: [partition, region], account: drawn, resource }) => {
      // A template that pins the region (S3 multi-region access points: us-west-2) pins the partition too.
      const fixedRegion = target.region !== '' && !target.region.match(TOKEN) ? target.region : undefined;
      const arnRegion = target.region === '' ? '' : (fixedRegion ?? region);
      const arnPartition = fixedRegion ? 'aws' : partition;
      const arnAccount =
        target.account === '' ? '' : /^\d{12}$/.test(target.account) ? target.account : drawn;
      return `arn:${arnPartition}:${target.service}:${arnRegion}:${arnAccount}:${resource}`;
    });
}

const request = (value: fc.Arbitrary<string>, last: fc.Arbitrary<string>) =>
  fc.constantFrom(...targets).chain((target) =>
    fc.record({
      resource: arnFor(target, value, last),
      actions: fc.uniqueArray(fc.constantFrom(...target.actions), {
        minLength: 1,
        maxLength: Math.min(3, target.actions.length),
      }),
    }),
  );

function assertExact(json: string, actions: string[], resource: string): void {
  expect(json).not.toMatch(/[*?]/);
  expect(json).not.toContain('${');
  expect(json).not.toContain('NotAction');
  expect(json).not.toContain('NotResource');
  expect(JSON.parse(json)).toEqual({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: actions,
        Resource: [resource],
        Condition: { DateLessThan: { 'aws:CurrentTime': NOT_AFTER } },
      },
    ],
  });
}

describe('session policies for real actions and ARNs', () => {
  it('draws from most of the catalog', () => {
    // Assess: a property over a handful of services would prove little
    expect(new Set(targets.map((target) => target.service)).size).toBeGreaterThan(250);
    expect(targets.length).toBeGreaterThan(1_500);
  });

  it('never contain a wildcard, NotAction, NotResource or a policy variable', () => {
    // Prepare
    let granted = 0;
    let runs = 0;

    // Act / Assess
    fc.assert(
      fc.property(request(name, lastName), ({ resource, actions }) => {
        runs++;
        let valid: ReturnType<typeof validateAccessRequest>;
        try {
          valid = validateAccessRequest({ resource, actions, reason: 'property test' });
        } catch (error) {
          // A drawn name can make the ARN look like a more specific type the actions do not apply to.
          if (error instanceof ValidationError && error.field !== 'resource') return;
          throw error;
        }
        const { json } = buildSessionPolicy({
          actions: valid.actions,
          resource: valid.resource,
          notAfter: NOT_AFTER,
        });
        assertExact(json, valid.actions, resource);
        granted++;
      }),
      { numRuns: 4_000 },
    );
    // Most draws must reach the policy builder, or this property would hold vacuously.
    expect(granted / runs).toBeGreaterThan(0.8);
  });

  it('stay exact whatever hostile text is slipped into an ARN', () => {
    // Prepare: names that mix in wildcards, variables, policy keywords, look-alikes and whitespace
    const hostile = fc.oneof(
      name,
      fc.constantFrom(
        '*',
        '?',
        '${aws:username}',
        '"],"NotResource":["',
        'NotAction',
        '\u0430dmin',
        ' ',
        '\n',
        '%2A',
        '\\u002a',
      ),
      fc.string({ unit: 'grapheme', maxLength: 8 }),
    );
    const hostileName = fc.array(hostile, { minLength: 1, maxLength: 3 }).map((parts) => parts.join(''));
    let refused = 0;

    // Act / Assess
    fc.assert(
      fc.property(request(hostileName, hostileName), ({ resource, actions }) => {
        try {
          const valid = validateAccessRequest({ resource, actions, reason: 'property test' });
          const { json } = buildSessionPolicy({
            actions: valid.actions,
            resource: valid.resource,
            notAfter: NOT_AFTER,
          });
          assertExact(json, valid.actions, resource);
        } catch (error) {
          if (!(error instanceof ValidationError)) throw error;
          refused++;
        }
      }),
      { numRuns: 3_000 },
    );
    expect(refused).toBeGreaterThan(0);
  });

  it('are refused by the builder itself for any input that is not exact, even without validation', () => {
    // Prepare
    const text = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom('*', 's3:*', 's3:Get?bject', 'arn:aws:s3:::b/*'),
    );

    // Act / Assess
    fc.assert(
      fc.property(fc.array(text, { minLength: 0, maxLength: 11 }), text, (actions, resource) => {
        try {
          const { json } = buildSessionPolicy({ actions, resource, notAfter: NOT_AFTER });
          assertExact(json, actions, resource);
        } catch (error) {
          if (!(error instanceof FailClosedError)) throw error;
        }
      }),
      { numRuns: 3_000 },
    );
  });
});
