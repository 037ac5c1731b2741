import type { CountersignConfig } from './config.js';
import { FailClosedError } from './errors.js';
import { globMatch } from './glob.js';

/**
 * Which target role a resource is reached through (docs/openapi.yaml and README, `targets[]`):
 * the target whose `account` is the ARN's account; for an ARN without an account (S3 buckets and
 * objects, …), the first target whose `resources` patterns match it. Nothing else, and nothing by
 * guessing: no target is a refusal the request records.
 */

type Target = CountersignConfig['targets'][number];

/** `arn:partition:service:region:account:…` → its partition and account ('' when absent). */
function partsOf(arn: string): { partition: string; account: string } {
  const [, partition = '', , , account = ''] = arn.split(':');
  return { partition, account };
}

const partitionOf = (target: Target) => target.roleArn.split(':')[1] ?? '';

/**
 * The target for `resource`. Account ids are per partition: a role in `aws` can never reach a
 * resource in `aws-cn`, so such a grant would record an approval for access that cannot exist.
 */
export function targetFor(config: Pick<CountersignConfig, 'targets'>, resource: string): Target {
  const { partition, account } = partsOf(resource);
  if (account) {
    const target = config.targets.find((t) => t.account === account && partitionOf(t) === partition);
    if (target) return target;
    throw new FailClosedError(
      `No target role is configured for account ${account} in partition ${partition || '(none)'}.`,
      { details: { account, partition } },
    );
  }
  const target = config.targets.find(
    (t) => partitionOf(t) === partition && (t.resources ?? []).some((p) => globMatch(p, resource)),
  );
  if (target) return target;
  throw new FailClosedError(
    `No target covers ${resource}: an ARN without an account goes to the first target whose resources patterns match it (targets[].resources), and none does.`,
    { details: { account: '', partition, resource } },
  );
}

/** The literal part of a pattern before its first wildcard. */
const literalPrefix = (pattern: string) => pattern.split(/[*?]/, 1)[0] ?? '';

/**
 * Could some ARN match both patterns? Two globs can only overlap where their literal prefixes agree,
 * so this errs towards "yes": it exists to warn, never to refuse.
 */
function mayOverlap(a: string, b: string): boolean {
  const pa = literalPrefix(a);
  const pb = literalPrefix(b);
  return pa.startsWith(pb) || pb.startsWith(pa);
}

/**
 * Problems that are not errors: an allow or approve rule whose `resources` are all ARNs without an
 * account that no target's `resources` can cover grants nothing — every request it matches ends
 * DENIED for want of a target. Said at start and at synth, keyed like the errors.
 */
export function configWarnings(config: Pick<CountersignConfig, 'targets' | 'rules'>): string[] {
  const warnings: string[] = [];
  const covering = config.targets.flatMap((t) => t.resources ?? []);
  for (const rule of config.rules) {
    if (rule.effect === 'deny') continue;
    const resources = rule.match?.resources;
    if (!resources?.every((p) => partsOf(p).account === '')) continue;
    if (resources.some((p) => covering.some((c) => mayOverlap(p, c)))) continue;
    warnings.push(
      `rules[${rule.name}].match.resources: every pattern is an ARN without an account (${resources.join(', ')}) and no targets[].resources covers it, so requests under this rule are always DENIED; add the buckets to a target's resources`,
    );
  }
  return warnings;
}
