import {
  IAMClient,
  type IAMClientConfig,
  LimitExceededException,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, type STSClient } from '@aws-sdk/client-sts';
import { DependencyError, describeError, FailClosedError } from '../core/errors.js';
import type { SessionRevoker } from '../core/ports.js';
import { createLogger, type Logger } from './logger.js';

/**
 * The inline policies on each target role that revocation owns (CDK must not manage them):
 * `countersign-revocations-0` … `-<REVOCATION_SLOTS - 1>`. Earlier versions wrote one policy named
 * exactly `countersign-revocations`; its statements carry their own end and lapse by themselves.
 */
export const REVOCATION_POLICY_NAME = 'countersign-revocations';
/** Several slots, so that concurrent revokes of different requests mostly write different policies. */
export const REVOCATION_SLOTS = 4;
export const revocationPolicyName = (slot: number) => `${REVOCATION_POLICY_NAME}-${slot}`;

/**
 * What the revocation slots may use of IAM's 10,240 characters for a role's inline policies, all
 * together (whitespace not counted), leaving room for any other inline policy an operator put on
 * the role. Each slot gets an equal share.
 */
export const REVOCATION_BUDGET = 9_216;
export const SLOT_BUDGET = Math.floor(REVOCATION_BUDGET / REVOCATION_SLOTS);

/** Sessions of a target role are role-chained: none lives longer than this. */
const MAX_SESSION_MS = 3600 * 1000;

/** STS's floor: the revoker session is needed for a few seconds, so the shortest one it grants. */
const REVOKER_SESSION_SECONDS = 900;

/**
 * Assumed credentials are reused until this long before they expire: longer than the revoke
 * function's 28-second timeout plus any clock skew, so they never lapse in the middle of a revoke.
 */
const REFRESH_MARGIN_MS = 5 * 60 * 1000;

/**
 * Lost races before a revoke gives up (each costs one read and one conditional write, with jitter
 * between): 50 concurrent revokes on one role converge well within it, inside the function's timeout.
 */
const MAX_ATTEMPTS = 100;

/** The fixed codes of the log lines an alarm watches (lib/aws/revocation-alarm.ts). */
export const REVOCATION_FAILED = 'RevocationFailed';
export const REVOCATION_CAPACITY_EXHAUSTED = 'RevocationCapacityExhausted';

/** One revoked request: every session named after it (`aws:userid` `*:<request id>`) until `until`. */
export interface RevocationEntry {
  readonly userId: string;
  /** When the last of its sessions expires; the entry is pruned after that. */
  readonly until: string;
}

/** The authoritative content of one revocation policy slot of one role. */
export interface RevocationSlotState {
  readonly slot: number;
  /** Incremented by every write; 0 for a slot never written. */
  readonly version: number;
  readonly entries: readonly RevocationEntry[];
  /**
   * The capacity fallback: a Deny of every session of the role issued before `before` (IAM's own
   * "revoke active sessions"), kept until `until`, when no such session can be alive any more.
   */
  readonly issuedBefore?: { readonly before: string; readonly until: string };
}

/**
 * Where the slots' content is kept with a version, so that concurrent revokes cannot lose each
 * other's entries: IAM has no conditional write and its reads are eventually consistent, so it is
 * only ever written from here, never read back.
 */
export interface RevocationLedger {
  /** Every stored slot of the role, read consistently. */
  read(roleArn: string): Promise<RevocationSlotState[]>;
  /** Stores `next` only if its slot is still at `next.version - 1`; false when another write came first. */
  write(roleArn: string, next: RevocationSlotState): Promise<boolean>;
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
  /** The versioned content of every slot. */
  readonly ledger: RevocationLedger;
  /** @default a JSON logger on stdout */
  readonly logger?: Logger;
  /** @default () => new Date() */
  readonly clock?: () => Date;
  /** Pause between lost races. @default a few milliseconds of jitter */
  readonly backoff?: (attempt: number) => Promise<void>;
}

/** A revoker session's IAM client; `client` and `expiresAtMs` are set once AssumeRole answered. */
interface RevokerSession {
  readonly ready: Promise<IAMClient>;
  client?: IAMClient;
  expiresAtMs?: number;
}

/** The Deny statements one slot becomes, as IAM stores them (without whitespace). */
export function renderSlot(state: Pick<RevocationSlotState, 'entries' | 'issuedBefore'>): string {
  const statements: unknown[] = [];
  if (state.entries.length > 0) {
    statements.push({
      Sid: 'CountersignRevokedSessions',
      Effect: 'Deny',
      Action: '*',
      Resource: '*',
      Condition: { StringLike: { 'aws:userid': state.entries.map((e) => e.userId).sort() } },
    });
  }
  if (state.issuedBefore) {
    statements.push({
      Sid: 'CountersignRevokedOlderSessions',
      Effect: 'Deny',
      Action: '*',
      Resource: '*',
      Condition: { DateLessThan: { 'aws:TokenIssueTime': state.issuedBefore.before } },
    });
  }
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}

/** The slot without what has lapsed by `nowMs`. */
function prune(state: RevocationSlotState, nowMs: number): RevocationSlotState {
  const { issuedBefore, ...rest } = state;
  return {
    ...rest,
    entries: state.entries.filter((e) => Date.parse(e.until) > nowMs),
    ...(issuedBefore && Date.parse(issuedBefore.until) > nowMs ? { issuedBefore } : {}),
  };
}

/** A stable slot to try first for a request, so that retries of one revoke land in the same place. */
function firstSlot(requestId: string): number {
  let h = 0;
  for (const c of requestId) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return h % REVOCATION_SLOTS;
}

const jitter = (attempt: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, Math.random() * Math.min(250, 10 * 2 ** attempt)));

/**
 * Revokes by denying, on the target role, everything to the sessions named after the request
 * (`aws:userid` `*:<request id>`: the request id is every session's RoleSessionName). Only
 * requests that have live sessions are written (the caller passes the latest session expiry as
 * `until`), and only until then: every write prunes what has lapsed. Entries are compact (one
 * statement per slot with many `aws:userid` values) and spread over `REVOCATION_SLOTS` inline
 * policies within IAM's 10,240 characters per role.
 *
 * Concurrency: the slots' content lives in a versioned ledger (DynamoDB). A revoke adds its entry
 * with a conditional write (losing a race means re-reading and trying again), then writes the slot
 * to IAM and re-reads the ledger: if the slot moved on meanwhile, it writes the newer content too,
 * so the last IAM write of a slot is always of its latest version and no entry is lost. A revoke
 * whose entry is already there only makes sure IAM has it.
 *
 * Capacity: when no slot has room (or IAM refuses the size), the revoke falls back to denying
 * every session of the role issued before now (`aws:TokenIssueTime`, as IAM's own "revoke active
 * sessions" does), which replaces slot 0's entries and always fits. Other grants' sessions on that
 * role then have to be claimed again; an alarm watches for it (REVOCATION_CAPACITY_EXHAUSTED).
 *
 * IAM changes only roles of the caller's own account, so a target in a member account is written
 * through its `revokerRoleArn`, a role in that account that may do nothing but edit the target
 * role's inline policies (lib/aws/target-role.ts). Targets without one are written with the
 * function's own credentials: right for roles in Countersign's own account (and the local stack).
 *
 * Errors: a target it cannot tell how to reach is a FailClosedError (the configuration must
 * change); anything IAM, STS or the ledger did not do is a DependencyError with the SDK error as
 * its cause (retrying the revoke may succeed).
 */
export class IamSessionRevoker implements SessionRevoker {
  private readonly ownClient: IAMClient;
  private readonly clock: () => Date;
  private readonly logger: Logger;
  private readonly backoff: (attempt: number) => Promise<void>;
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
    this.logger = options.logger ?? createLogger({ component: 'iam-revoker' });
    this.backoff = options.backoff ?? jitter;
  }

  async revoke(roleArn: string, requestId: string, until: string): Promise<void> {
    try {
      await this.write(roleArn, requestId, until);
    } catch (error) {
      // One fixed code, so that a metric filter can count failed revokes and alarm on them.
      this.logger.error('revocation failed', {
        code: REVOCATION_FAILED,
        roleArn,
        requestId,
        error: describeError(error) ?? 'unknown',
      });
      throw error;
    }
  }

  private async write(roleArn: string, requestId: string, until: string): Promise<void> {
    const target = this.options.targets.find((t) => t.roleArn === roleArn);
    if (!target) {
      // Fail closed: without a configured target there is no telling which credentials reach it.
      throw new FailClosedError(
        `no configured target has roleArn ${roleArn}; cannot revoke ${requestId} on it`,
      );
    }
    const { account, ledger } = this.options;
    if (!target.revokerRoleArn && account !== undefined && target.account !== account) {
      // IAM names roles without their account: writing here would deny a same-named role of this
      // account, or be refused, while the target's sessions went on working.
      throw new FailClosedError(
        `${roleArn} is in account ${target.account}, outside this function's account ${account}, and its target has no revokerRoleArn`,
      );
    }
    const client = target.revokerRoleArn
      ? await this.revokerClient(target.revokerRoleArn, requestId)
      : this.ownClient;
    const roleName = roleArn.split('/').pop()!;
    const userId = `*:${requestId}`;
    const untilMs = Date.parse(until);
    if (Number.isNaN(untilMs))
      throw new FailClosedError(`revocation of ${requestId}: until ${until} is not a time`);
    let forceCollapse = false;

    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (attempt > 0) await this.backoff(attempt);
      const nowMs = this.clock().getTime();
      const slots = await this.readSlots(roleArn);

      const holder = slots.find((s) =>
        s.entries.some((e) => e.userId === userId && Date.parse(e.until) >= untilMs),
      );
      if (holder && !forceCollapse) {
        // Already revoked (a retry, or a concurrent revoke of the same request): make sure IAM has it.
        if (await this.apply(client, roleArn, roleName, holder)) return;
        forceCollapse = true;
        continue;
      }

      let next: RevocationSlotState | undefined;
      if (!forceCollapse) {
        // A lost race moves on to the next slot first, so racing revokes spread out.
        const start = (firstSlot(requestId) + attempt) % REVOCATION_SLOTS;
        for (let i = 0; i < REVOCATION_SLOTS && !next; i++) {
          const current = prune(slots[(start + i) % REVOCATION_SLOTS]!, nowMs);
          const candidate: RevocationSlotState = {
            ...current,
            version: current.version + 1,
            entries: [...current.entries.filter((e) => e.userId !== userId), { userId, until }],
          };
          if (renderSlot(candidate).length <= SLOT_BUDGET) next = candidate;
        }
      }
      if (!next) {
        // Every slot is full: deny every session of the role issued before the next whole second
        // (session issue times are whole seconds), which covers this request's sessions and
        // everything slot 0 held. It lasts until every such session has expired.
        const before = Math.floor(nowMs / 1000) * 1000 + 1000;
        const slot0 = slots[0]!;
        next = {
          slot: 0,
          version: slot0.version + 1,
          entries: [],
          issuedBefore: {
            before: new Date(before).toISOString().replace(/\.\d{3}Z$/, 'Z'),
            until: new Date(before + MAX_SESSION_MS).toISOString(),
          },
        };
        this.logger.warn('revocation capacity exhausted: denying every older session of the role', {
          code: REVOCATION_CAPACITY_EXHAUSTED,
          roleArn,
          requestId,
          before: next.issuedBefore!.before,
        });
      }
      if (!(await ledger.write(roleArn, next))) continue; // another revoke wrote the slot first
      if (await this.apply(client, roleArn, roleName, next)) return;
      if (forceCollapse) {
        throw new DependencyError(
          `revocation of ${requestId}: IAM refused even the compact fallback on ${roleName}`,
        );
      }
      forceCollapse = true;
    }
    throw new DependencyError(
      `revocation of ${requestId} on ${roleName} lost ${MAX_ATTEMPTS} races in a row`,
    );
  }

  /**
   * Writes the slot to IAM until the ledger shows no newer version of it: the last IAM write of a
   * slot is then always of its latest content. False when IAM refuses the size (the role's other
   * inline policies leave less room than the budget assumes).
   */
  private async apply(
    client: IAMClient,
    roleArn: string,
    roleName: string,
    written: RevocationSlotState,
  ): Promise<boolean> {
    let state = written;
    for (let round = 0; round < MAX_ATTEMPTS; round++) {
      try {
        await client.send(
          new PutRolePolicyCommand({
            RoleName: roleName,
            PolicyName: revocationPolicyName(state.slot),
            PolicyDocument: renderSlot(state),
          }),
        );
      } catch (error) {
        if (error instanceof LimitExceededException || (error as Error).name === 'LimitExceeded')
          return false;
        throw new DependencyError(`IAM did not write ${revocationPolicyName(state.slot)} on ${roleName}`, {
          cause: error,
        });
      }
      const latest = (await this.readSlots(roleArn))[state.slot]!;
      if (latest.version <= state.version) return true;
      state = latest;
    }
    throw new DependencyError(`revocation slot ${state.slot} of ${roleName} kept changing`);
  }

  /** All slots, in slot order, with never-written ones empty. */
  private async readSlots(roleArn: string): Promise<RevocationSlotState[]> {
    const stored = await this.options.ledger.read(roleArn);
    return Array.from(
      { length: REVOCATION_SLOTS },
      (_, slot) => stored.find((s) => s.slot === slot) ?? { slot, version: 0, entries: [] },
    );
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
          throw new DependencyError(`could not assume the revoker role ${revokerRoleArn}`, { cause: error });
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
      throw new DependencyError('STS answered AssumeRole without complete credentials');
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
}
