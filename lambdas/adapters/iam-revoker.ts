import {
  GetRolePolicyCommand,
  IAMClient,
  type IAMClientConfig,
  NoSuchEntityException,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, type STSClient } from '@aws-sdk/client-sts';
import type { SessionRevoker } from '../core/ports.js';

/** The inline policy on each target role that revocation owns (CDK must not manage it). */
export const REVOCATION_POLICY_NAME = 'countersign-revocations';

/** IAM's limit on a role's inline policies, all together. */
const INLINE_POLICY_LIMIT = 10_240;

/** STS's floor: the revoker session is needed for a few seconds, so the shortest one it grants. */
const REVOKER_SESSION_SECONDS = 900;

/**
 * Assumed credentials are reused until this long before they expire: longer than the revoke
 * function's 28-second timeout plus any clock skew, so they never lapse in the middle of a revoke.
 */
const REFRESH_MARGIN_MS = 5 * 60 * 1000;

interface DenyStatement {
  Sid: string;
  Effect: 'Deny';
  Action: '*';
  Resource: '*';
  Condition: { StringLike: { 'aws:userid': string }; DateLessThan: { 'aws:CurrentTime': string } };
}

/** One entry of `config.targets`, as far as revocation needs it. */
export interface RevocationTarget {
  readonly account: string;
  readonly roleArn: string;
  /** Assumed to write on `roleArn` when set; the function's own credentials otherwise. */
  readonly revokerRoleArn?: string;
}

export interface IamSessionRevokerOptions {
  /** `config.targets`: which credentials reach each target role. */
  readonly targets: readonly RevocationTarget[];
  /**
   * The account the function's own credentials are in. When known, a target elsewhere without a
   * revoker role is refused: IAM would take its role name as a role of this account.
   * @default - unknown (the local stack, whose stand-in serves every account)
   */
  readonly account?: string;
  /** Region and endpoint of every IAM client; its credentials (if any) are replaced for revoker roles. */
  readonly iam: IAMClientConfig;
  /** Assumes the revoker roles, with the function's own credentials. */
  readonly sts: STSClient;
  /** @default () => new Date() */
  readonly clock?: () => Date;
}

/** A revoker session's IAM client; `client` and `expiresAtMs` are set once AssumeRole answered. */
interface RevokerSession {
  readonly ready: Promise<IAMClient>;
  client?: IAMClient;
  expiresAtMs?: number;
}

/**
 * Revokes by writing, on the target role, a Deny of everything for `aws:userid` = `*:<request id>`:
 * every session of the request has the request id as its RoleSessionName, so this reaches sessions
 * minted before and during the revoke. Each statement carries its own end (`DateLessThan`) and
 * lapsed ones are pruned on the next write, keeping the policy under IAM's size limit.
 *
 * IAM changes only roles of the caller's own account, so a target in a member account is written
 * through its `revokerRoleArn`, a role in that account that may do nothing but edit the target
 * role's inline policies (lib/aws/target-role.ts). Targets without one are written with the
 * function's own credentials: right for roles in Countersign's own account (and the local stack).
 */
export class IamSessionRevoker implements SessionRevoker {
  private readonly ownClient: IAMClient;
  private readonly clock: () => Date;
  /**
   * Revoker sessions by role and request. The session is named after the request so that
   * CloudTrail ties each PutRolePolicy to the revoke that made it; sharing one session across
   * requests would attribute writes to the wrong request, so only a retry of the same revoke
   * reuses one.
   */
  private readonly assumed = new Map<string, RevokerSession>();

  constructor(private readonly options: IamSessionRevokerOptions) {
    this.ownClient = new IAMClient(options.iam);
    this.clock = options.clock ?? (() => new Date());
  }

  async revoke(roleArn: string, requestId: string, until: string): Promise<void> {
    const target = this.options.targets.find((t) => t.roleArn === roleArn);
    if (!target) {
      // Fail closed: without a configured target there is no telling which credentials reach it.
      throw new Error(`no configured target has roleArn ${roleArn}; cannot revoke ${requestId} on it`);
    }
    const { account } = this.options;
    if (!target.revokerRoleArn && account !== undefined && target.account !== account) {
      // IAM names roles without their account: writing here would deny a same-named role of this
      // account, or be refused, while the target's sessions went on working.
      throw new Error(
        `${roleArn} is in account ${target.account}, outside this function's account ${account}, and its target has no revokerRoleArn`,
      );
    }
    const client = target.revokerRoleArn
      ? await this.revokerClient(target.revokerRoleArn, requestId)
      : this.ownClient;
    const roleName = roleArn.split('/').pop()!;
    // Read-modify-write is not atomic in IAM: re-read after writing and retry if a concurrent revoke
    // replaced our statement.
    for (let attempt = 0; attempt < 5; attempt++) {
      const statements = (await this.read(client, roleName)).filter(
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
      await client.send(
        new PutRolePolicyCommand({
          RoleName: roleName,
          PolicyName: REVOCATION_POLICY_NAME,
          PolicyDocument: document,
        }),
      );
      if ((await this.read(client, roleName)).some((s) => s.Sid === sid)) return;
    }
    throw new Error(`revocation of ${requestId} on ${roleName} kept being overwritten`);
  }

  /** An IAM client signed by a session of the revoker role, assumed once per revoke and reused until near expiry. */
  private revokerClient(revokerRoleArn: string, requestId: string): Promise<IAMClient> {
    const now = this.clock().getTime();
    for (const [key, session] of this.assumed) {
      if (session.expiresAtMs !== undefined && session.expiresAtMs - REFRESH_MARGIN_MS <= now) {
        this.assumed.delete(key);
        session.client?.destroy();
      }
    }
    const key = `${revokerRoleArn} ${requestId}`;
    const cached = this.assumed.get(key);
    if (cached) return cached.ready;
    const session: RevokerSession = {
      ready: this.assume(revokerRoleArn, requestId).then(
        ({ client, expiresAtMs }) => {
          session.client = client;
          session.expiresAtMs = expiresAtMs;
          return client;
        },
        (error: unknown) => {
          // A failed AssumeRole is not kept: the caller is told to retry, and the retry tries again.
          if (this.assumed.get(key) === session) this.assumed.delete(key);
          throw new Error(`could not assume the revoker role ${revokerRoleArn}`, { cause: error });
        },
      ),
    };
    this.assumed.set(key, session);
    return session.ready;
  }

  private async assume(
    revokerRoleArn: string,
    requestId: string,
  ): Promise<{ client: IAMClient; expiresAtMs: number }> {
    const out = await this.options.sts.send(
      new AssumeRoleCommand({
        RoleArn: revokerRoleArn,
        // Request ids (`req_` + 20 characters) keep this within STS's 64-character limit.
        RoleSessionName: `countersign-revoke-${requestId}`,
        DurationSeconds: REVOKER_SESSION_SECONDS,
      }),
    );
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
      throw new Error('STS answered AssumeRole without complete credentials');
    }
    const expiration = new Date(c.Expiration);
    return {
      client: new IAMClient({
        ...this.options.iam,
        credentials: {
          accessKeyId: c.AccessKeyId,
          secretAccessKey: c.SecretAccessKey,
          sessionToken: c.SessionToken,
          expiration,
        },
      }),
      expiresAtMs: expiration.getTime(),
    };
  }

  private async read(client: IAMClient, roleName: string): Promise<DenyStatement[]> {
    try {
      const out = await client.send(
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
