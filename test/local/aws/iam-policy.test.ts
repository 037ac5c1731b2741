import { describe, expect, it } from 'vitest';
import {
  evaluate,
  MalformedPolicyError,
  type ParsedPolicy,
  parsePolicy,
} from '../../../lib/local/aws/iam-policy.js';

const PRINCIPAL = 'arn:aws:sts::111122223333:assumed-role/target/req-1';
const TABLE = 'arn:aws:dynamodb:us-east-1:111122223333:table/orders';
const NOW = '2026-01-01T12:00:00.000Z';

function ctx(extra: Record<string, string | string[]> = {}): Map<string, string[]> {
  const base: Record<string, string | string[]> = {
    'aws:currenttime': NOW,
    'aws:epochtime': String(Date.parse(NOW) / 1000),
    'aws:userid': 'AROAEXAMPLE:req-1',
    'aws:principalarn': 'arn:aws:iam::111122223333:role/target',
    'aws:principalaccount': '111122223333',
    'aws:requestedregion': 'us-east-1',
    'aws:securetransport': 'false',
    ...extra,
  };
  return new Map(Object.entries(base).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v : [v]]));
}

const policy = (name: string, ...Statement: object[]): ParsedPolicy =>
  parsePolicy(name, { Version: '2012-10-17', Statement });
const allow = (extra: object = {}) => ({
  Effect: 'Allow',
  Action: 'dynamodb:GetItem',
  Resource: TABLE,
  ...extra,
});

function decide(
  identity: ParsedPolicy[],
  options: {
    session?: ParsedPolicy[];
    action?: string;
    resource?: string;
    context?: Map<string, string[]>;
  } = {},
) {
  return evaluate({
    principalArn: PRINCIPAL,
    action: options.action ?? 'dynamodb:GetItem',
    resource: options.resource ?? TABLE,
    identityPolicies: identity,
    ...(options.session ? { sessionPolicies: options.session } : {}),
    context: options.context ?? ctx(),
  });
}

describe('IAM policy evaluation', () => {
  it('allows what an identity policy allows, matching actions case-insensitively and resources by glob', () => {
    // Act
    const exact = decide([policy('p', allow())]);
    const cased = decide([policy('p', allow({ Action: 'DynamoDB:getitem' }))]);
    const globbed = decide([
      policy('p', allow({ Action: 'dynamodb:Get*', Resource: 'arn:aws:dynamodb:*:*:table/ord?rs' })),
    ]);

    // Assess
    expect([exact.allowed, cased.allowed, globbed.allowed]).toEqual([true, true, true]);
  });

  it('refuses with AWS wording when nothing allows, and an explicit Deny beats any Allow', () => {
    // Act
    const none = decide([policy('p', allow({ Action: 'dynamodb:PutItem' }))]);
    const denied = decide([
      policy('p', allow()),
      policy('revocations', { Effect: 'Deny', Action: '*', Resource: '*' }),
    ]);

    // Assess
    expect(none).toMatchObject({
      allowed: false,
      decision: 'ImplicitDeny',
      reason: `User: ${PRINCIPAL} is not authorized to perform: dynamodb:GetItem on resource: ${TABLE} because no identity-based policy allows the dynamodb:GetItem action`,
    });
    expect(denied).toMatchObject({
      allowed: false,
      decision: 'ExplicitDeny',
      reason: `User: ${PRINCIPAL} is not authorized to perform: dynamodb:GetItem on resource: ${TABLE} with an explicit deny in an identity-based policy`,
    });
  });

  it('needs an Allow in both the session policy and the identity policy', () => {
    // Prepare
    const everything = policy('role', { Effect: 'Allow', Action: '*', Resource: '*' });
    const session = [policy('session', allow())];

    // Act
    const inBoth = decide([everything], { session });
    const notInSession = decide([everything], { session, action: 'dynamodb:PutItem' });
    const notInRole = decide([policy('role', allow({ Action: 'dynamodb:PutItem' }))], { session });

    // Assess
    expect(inBoth.allowed).toBe(true);
    expect(notInSession.reason).toContain('because no session policy allows the dynamodb:PutItem action');
    expect(notInRole.reason).toContain('because no identity-based policy allows');
  });

  it('honours NotAction and NotResource', () => {
    // Prepare
    const p = policy(
      'p',
      { Effect: 'Allow', NotAction: 'iam:*', Resource: '*' },
      { Effect: 'Deny', Action: '*', NotResource: [TABLE] },
    );

    // Act / Assess
    expect(decide([p]).allowed).toBe(true);
    expect(decide([p], { action: 'iam:PutRolePolicy' }).allowed).toBe(false);
    expect(decide([p], { resource: `${TABLE}-other` }).decision).toBe('ExplicitDeny');
  });

  it('evaluates the revocation statement Countersign writes: StringLike aws:userid and DateLessThan aws:CurrentTime', () => {
    // Prepare
    const revocation = (until: string) =>
      policy('revocations', {
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        Condition: {
          StringLike: { 'aws:userid': ['*:req-9', '*:req-1'] },
          DateLessThan: { 'aws:CurrentTime': until },
        },
      });
    const role = policy('role', allow());

    // Act
    const live = decide([role, revocation('2026-01-01T13:00:00Z')]);
    const lapsed = decide([role, revocation('2026-01-01T11:00:00Z')]);
    const otherSession = decide([role, revocation('2026-01-01T13:00:00Z')], {
      context: ctx({ 'aws:userid': 'AROAEXAMPLE:req-2' }),
    });

    // Assess
    expect(live.decision).toBe('ExplicitDeny');
    expect(lapsed.allowed).toBe(true);
    expect(otherSession.allowed).toBe(true);
  });

  it('implements the string, ARN, date, numeric, bool and Null operators with IfExists and set qualifiers', () => {
    // Prepare
    const cases: Array<[object, boolean]> = [
      [{ StringEquals: { 'aws:PrincipalAccount': '111122223333' } }, true],
      [{ StringNotEquals: { 'aws:PrincipalAccount': '111122223333' } }, false],
      [{ StringEqualsIgnoreCase: { 'aws:RequestedRegion': 'US-EAST-1' } }, true],
      [{ StringNotEqualsIgnoreCase: { 'aws:RequestedRegion': 'US-EAST-1' } }, false],
      [{ StringLike: { 'aws:userid': 'AROA*:req-?' } }, true],
      [{ StringNotLike: { 'aws:userid': '*:req-1' } }, false],
      [{ ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/tar*' } }, true],
      [{ ArnEquals: { 'aws:PrincipalArn': 'arn:aws:iam::111122223333:role/other' } }, false],
      [{ ArnNotEquals: { 'aws:PrincipalArn': 'arn:aws:iam::111122223333:role/other' } }, true],
      [{ ArnNotLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/*' } }, false],
      [{ DateGreaterThan: { 'aws:CurrentTime': '2026-01-01T00:00:00Z' } }, true],
      [{ DateLessThanEquals: { 'aws:CurrentTime': NOW } }, true],
      [{ DateEquals: { 'aws:CurrentTime': NOW } }, true],
      [{ DateNotEquals: { 'aws:CurrentTime': NOW } }, false],
      [{ DateGreaterThanEquals: { 'aws:EpochTime': String(Date.parse(NOW) / 1000 + 1) } }, false],
      [{ NumericLessThan: { 'aws:EpochTime': Date.parse(NOW) / 1000 + 1 } }, true],
      [{ NumericGreaterThanEquals: { 'aws:EpochTime': Date.parse(NOW) / 1000 } }, true],
      [{ NumericNotEquals: { 'aws:EpochTime': 0 } }, true],
      [{ Bool: { 'aws:SecureTransport': 'true' } }, false],
      [{ Bool: { 'aws:SecureTransport': false } }, true],
      [{ Null: { 'aws:SourceIdentity': 'true' } }, true],
      [{ Null: { 'aws:SourceIdentity': 'false' } }, false],
      [{ StringEquals: { 'aws:SourceIdentity': 'alice' } }, false],
      [{ StringEqualsIfExists: { 'aws:SourceIdentity': 'alice' } }, true],
      [{ StringNotEquals: { 'aws:SourceIdentity': 'alice' } }, true],
      [{ 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['a', 'b'] } }, false],
      [{ 'ForAllValues:StringEquals': { 'aws:TagKeys': ['a', 'b'] } }, true],
      [{ StringEquals: { 'aws:PrincipalTag/Team': 'blue' } }, false],
    ];

    // Act
    const results = cases.map(([Condition]) => decide([policy('p', allow({ Condition }))]).allowed);

    // Assess
    expect(results).toEqual(cases.map(([, expected]) => expected));
  });

  it('applies ForAnyValue/ForAllValues over multi-valued keys', () => {
    // Prepare
    const context = ctx({ 'aws:TagKeys': ['team', 'owner'] });
    const any = policy(
      'p',
      allow({ Condition: { 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['owner'] } } }),
    );
    const all = policy(
      'p',
      allow({ Condition: { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['owner'] } } }),
    );

    // Act / Assess
    expect(decide([any], { context }).allowed).toBe(true);
    expect(decide([all], { context }).allowed).toBe(false);
  });

  it('resolves policy variables, and fails closed on one it cannot resolve', () => {
    // Prepare
    const own = policy(
      'p',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, not a template
      allow({ Resource: 'arn:aws:dynamodb:us-east-1:111122223333:table/${aws:PrincipalAccount}-*' }),
    );
    const unresolvable = policy(
      'p',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, not a template
      allow({ Resource: 'arn:aws:dynamodb:us-east-1:111122223333:table/${aws:username}' }),
    );

    // Act
    const resolved = decide([own], {
      resource: 'arn:aws:dynamodb:us-east-1:111122223333:table/111122223333-x',
    });
    const failed = decide([unresolvable]);

    // Assess
    expect(resolved.allowed).toBe(true);
    expect(failed.allowed).toBe(false);
    expect(failed.problems.join()).toMatch(/aws:username.*cannot be resolved/);
  });

  it('fails closed on what it does not understand: an undecidable Allow does not apply, an undecidable Deny does', () => {
    // Prepare
    const unknownOperator = policy(
      'p',
      allow({ Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }),
    );
    const unknownKey = policy('p', allow({ Condition: { StringNotEquals: { 'aws:SourceVpc': 'vpc-1' } } }));
    const denyUnknown = policy('deny', {
      Effect: 'Deny',
      Action: '*',
      Resource: '*',
      Condition: { StringFancy: { 'aws:userid': 'x' } },
    });
    const everything = policy('all', { Effect: 'Allow', Action: '*', Resource: '*' });

    // Act
    const a = decide([unknownOperator]);
    const b = decide([unknownKey]);
    const c = decide([everything, denyUnknown]);

    // Assess
    expect(a).toMatchObject({ allowed: false });
    expect(a.problems.join()).toMatch(/IpAddress is not supported/);
    expect(b.allowed).toBe(false);
    expect(b.problems.join()).toMatch(/aws:SourceVpc has no value/);
    expect(c).toMatchObject({ allowed: false, decision: 'ExplicitDeny' });
  });

  it('refuses malformed documents as IAM does', () => {
    // Act / Assess
    expect(() => parsePolicy('p', '{not json')).toThrow(MalformedPolicyError);
    expect(() => parsePolicy('p', { Version: '2012-10-17', Statement: [] })).toThrow(
      /at least one statement/,
    );
    expect(() =>
      parsePolicy('p', { Version: '2012-10-17', Statement: [{ Effect: 'Maybe', Action: '*' }] }),
    ).toThrow(/valid Effect/);
    expect(() =>
      parsePolicy('p', {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: '*', NotAction: '*' }],
      }),
    ).toThrow(/exactly one of Action or NotAction/);
    expect(() =>
      parsePolicy(
        'p',
        { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*' }] },
        { requireResource: true },
      ),
    ).toThrow(/must contain resources/);
    expect(() => parsePolicy('p', { Version: '2099-01-01', Statement: [allow()] })).toThrow(/valid version/);
  });
});
