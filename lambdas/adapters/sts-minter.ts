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
          Tags: input.tags,
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
