import {
  GetRolePolicyCommand,
  type IAMClient,
  NoSuchEntityException,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import type { SessionRevoker } from '../core/ports.js';

/** The inline policy on each target role that revocation owns (CDK must not manage it). */
export const REVOCATION_POLICY_NAME = 'countersign-revocations';

/** IAM's limit on a role's inline policies, all together. */
const INLINE_POLICY_LIMIT = 10_240;

interface DenyStatement {
  Sid: string;
  Effect: 'Deny';
  Action: '*';
  Resource: '*';
  Condition: { StringLike: { 'aws:userid': string }; DateLessThan: { 'aws:CurrentTime': string } };
}

/**
 * Revokes by writing, on the target role, a Deny of everything for `aws:userid` = `*:<request id>`:
 * every session of the request has the request id as its RoleSessionName, so this reaches sessions
 * minted before and during the revoke. Each statement carries its own end (`DateLessThan`) and
 * lapsed ones are pruned on the next write, keeping the policy under IAM's size limit.
 */
export class IamSessionRevoker implements SessionRevoker {
  constructor(
    private readonly client: IAMClient,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async revoke(roleArn: string, requestId: string, until: string): Promise<void> {
    const roleName = roleArn.split('/').pop()!;
    // Read-modify-write is not atomic in IAM: re-read after writing and retry if a concurrent revoke
    // replaced our statement.
    for (let attempt = 0; attempt < 5; attempt++) {
      const statements = (await this.read(roleName)).filter(
        (s) => Date.parse(s.Condition.DateLessThan['aws:CurrentTime']) > this.clock().getTime(),
      );
      const sid = `Revoke${requestId.replace(/[^A-Za-z0-9]/g, '')}`;
      if (!statements.some((s) => s.Sid === sid)) {
        statements.push({
          Sid: sid,
          Effect: 'Deny',
          Action: '*',
          Resource: '*',
          Condition: {
            StringLike: { 'aws:userid': `*:${requestId}` },
            DateLessThan: { 'aws:CurrentTime': until },
          },
        });
      }
      const document = JSON.stringify({ Version: '2012-10-17', Statement: statements });
      if (document.length > INLINE_POLICY_LIMIT) {
        throw new Error(
          `revocation policy on ${roleName} would exceed IAM's ${INLINE_POLICY_LIMIT}-character limit`,
        );
      }
      await this.client.send(
        new PutRolePolicyCommand({
          RoleName: roleName,
          PolicyName: REVOCATION_POLICY_NAME,
          PolicyDocument: document,
        }),
      );
      if ((await this.read(roleName)).some((s) => s.Sid === sid)) return;
    }
    throw new Error(`revocation of ${requestId} on ${roleName} kept being overwritten`);
  }

  private async read(roleName: string): Promise<DenyStatement[]> {
    try {
      const out = await this.client.send(
        new GetRolePolicyCommand({ RoleName: roleName, PolicyName: REVOCATION_POLICY_NAME }),
      );
      // IAM returns the document URL-encoded.
      const document = JSON.parse(decodeURIComponent(out.PolicyDocument ?? '{}')) as {
        Statement?: DenyStatement[];
      };
      return Array.isArray(document.Statement) ? document.Statement : [];
    } catch (error) {
      if (error instanceof NoSuchEntityException) return [];
      throw error;
    }
  }
}
