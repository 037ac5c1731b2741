import { createHash } from 'node:crypto';
import { AssumeRoleCommand, type AssumeRoleCommandOutput, type STSClient } from '@aws-sdk/client-sts';
import { DependencyError, FailClosedError } from '../core/errors.js';
import type { AssumedSession, AssumeRoleInput, CredentialMinter } from '../core/ports.js';

/** STS errors that mean "this grant cannot be minted as configured", not "try again". */
const CONFIGURATION_ERRORS = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'MalformedPolicyDocument',
  'PackedPolicyTooLarge',
  'ValidationError',
  'RegionDisabledException',
]);

/** What STS accepts in a session tag value: letters, spaces, digits and `_ . : / = + - @`, ≤ 256. */
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;
const TAG_VALUE_UNSAFE = /[^\p{L}\p{Z}\p{N}_.:/=+\-@]/gu;
const TAG_HASH_CHARS = 16;
const TAG_HASH_MARK = '=h:';

/**
 * A session tag value STS accepts, deterministically. A value that fits is used unchanged (a
 * sanitized SourceIdentity always fits but for `,`); otherwise refused characters become `_`,
 * followed by `=h:` and 16 base64url characters of the value's SHA-256, so two values that differ
 * only in refused characters still differ. A value that already contains `=h:` is always encoded,
 * so no value passed through unchanged can pose as the encoding of another.
 */
export function sessionTagValue(value: string): string {
  if (TAG_VALUE.test(value) && !value.includes(TAG_HASH_MARK)) return value;
  const hash = createHash('sha256').update(value, 'utf8').digest('base64url').slice(0, TAG_HASH_CHARS);
  const suffix = `${TAG_HASH_MARK}${hash}`;
  const prefix = [...value.replace(TAG_VALUE_UNSAFE, '_')].slice(0, 256 - suffix.length).join('');
  return `${prefix}${suffix}`;
}

export class StsCredentialMinter implements CredentialMinter {
  constructor(private readonly client: STSClient) {}

  async assumeRole(input: AssumeRoleInput): Promise<AssumedSession> {
    let out: AssumeRoleCommandOutput;
    try {
      out = await this.client.send(
        new AssumeRoleCommand({
          RoleArn: input.roleArn,
          RoleSessionName: input.sessionName,
          SourceIdentity: input.sourceIdentity,
          Policy: input.policy,
          DurationSeconds: input.durationSeconds,
          // STS refuses tag values its alphabet lacks (a `sub` may hold any character): encode, never fail.
          Tags: input.tags?.map((tag) => ({ Key: tag.Key, Value: sessionTagValue(tag.Value) })),
        }),
      );
    } catch (error) {
      const name = (error as { name?: string }).name ?? '';
      if (CONFIGURATION_ERRORS.has(name)) {
        // Never widen, never retry blindly: the target role's trust or the policy needs an operator.
        throw new FailClosedError(
          `STS refused the session (${name}); check the target role's trust policy.`,
          {
            cause: error,
          },
        );
      }
      throw new DependencyError('STS is unavailable; no credentials were issued. Retry.', { cause: error });
    }
    const c = out.Credentials;
    const user = out.AssumedRoleUser;
    if (
      !c?.AccessKeyId ||
      !c.SecretAccessKey ||
      !c.SessionToken ||
      !c.Expiration ||
      !user?.AssumedRoleId ||
      !user.Arn
    ) {
      throw new DependencyError('STS answered without complete credentials.');
    }
    return {
      credentials: {
        Version: 1,
        AccessKeyId: c.AccessKeyId,
        SecretAccessKey: c.SecretAccessKey,
        SessionToken: c.SessionToken,
        Expiration: new Date(c.Expiration).toISOString(),
      },
      assumedRoleId: user.AssumedRoleId,
      arn: user.Arn,
    };
  }
}
