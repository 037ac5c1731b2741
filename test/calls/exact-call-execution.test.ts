import { describe, expect, it } from 'vitest';
import { HmacMac } from '../../lambdas/adapters/hmac-mac.js';
import { ConditionFailedError } from '../../lambdas/core/errors.js';
import { inputSha256 } from '../../lambdas/core/exact-call.js';
import {
  type CallExecutor,
  type CallOutcome,
  ExactCalls,
  MAX_OUTPUT_CHARS,
} from '../../lambdas/core/exact-call-execution.js';
import { appendHistory, sealHistory, verifyKeyedHistory } from '../../lambdas/core/history.js';
import { maskingRules } from '../../lambdas/core/masking.js';
import type { AccessRequest, Caller, MintedSession } from '../../lambdas/core/model.js';
import type { CredentialMinter, Mac, RequestStore } from '../../lambdas/core/ports.js';
import { buildSessionPolicy } from '../../lambdas/core/session-policy.js';
import { fakeAccessKeyId } from '../support/fake-keys.js';

/** The execute use case with the store, STS and AWS at its ports: what it records in each case. */

const NOW = new Date('2026-01-01T10:00:00Z');
const TABLE = 'arn:aws:dynamodb:us-east-1:111122223333:table/orders';
const caller: Caller = {
  sub: 'bot',
  issuer: 'https://issuer',
  groups: ['agents'],
  roles: new Set(['agent']),
};

class MemoryStore {
  readonly sessions: MintedSession[] = [];
  constructor(public request: AccessRequest) {}
  async get() {
    return structuredClone(this.request);
  }
  async replace(next: AccessRequest, condition: { expectedVersion: number }) {
    if (this.request.version !== condition.expectedVersion) throw new ConditionFailedError();
    this.request = structuredClone(next);
  }
  async putSession(session: MintedSession) {
    this.sessions.push(session);
  }
}

function approved(input: Record<string, unknown>, hash = inputSha256(input)): AccessRequest {
  const notAfter = '2026-01-01T11:00:00Z';
  return {
    id: 'req_test',
    status: 'APPROVED',
    requester: { sub: 'bot', issuer: 'https://issuer', groups: ['agents'] },
    resource: TABLE,
    actions: ['dynamodb:GetItem'],
    reason: 'test',
    context: {},
    durationSeconds: 900,
    createdAt: NOW.toISOString(),
    updatedAt: NOW.toISOString(),
    policy: { rule: 'reads', effect: 'allow', accessLevels: ['Read'] },
    decisions: [],
    version: 2,
    grant: {
      resource: TABLE,
      actions: ['dynamodb:GetItem'],
      roleArn: 'arn:aws:iam::111122223333:role/target',
      notAfter,
      durationSeconds: 3600,
      grantedAt: NOW.toISOString(),
      sessionPolicy: buildSessionPolicy({ actions: ['dynamodb:GetItem'], resource: TABLE, notAfter })
        .document,
    },
    call: { operation: 'dynamodb:GetItem', input, inputSha256: hash },
  };
}

const minter = (policies: string[] = []): CredentialMinter => ({
  async assumeRole(input) {
    policies.push(input.policy);
    return {
      credentials: {
        Version: 1,
        AccessKeyId: fakeAccessKeyId('TESTSESSION00001'),
        SecretAccessKey: 'not-a-secret',
        SessionToken: 'not-a-token',
        Expiration: '2026-01-01T10:15:00Z',
      },
      assumedRoleId: 'AROATEST:req_test',
      arn: 'arn:aws:sts::111122223333:assumed-role/target/req_test',
    };
  },
});

const executor = (outcome: CallOutcome, calls: unknown[] = []): CallExecutor => ({
  supports: () => true,
  async execute(call) {
    calls.push(call);
    return outcome;
  },
});

function calls(store: MemoryStore, exec: CallExecutor, mint = minter(), mac?: Mac) {
  return new ExactCalls({
    store: store as unknown as RequestStore,
    minter: mint,
    executor: exec,
    clock: { now: () => NOW },
    masking: maskingRules(undefined),
    ...(mac ? { mac } : {}),
  });
}

/** Counts reads, and lets the first `together` of them answer only once all have been asked. */
class RacingStore extends MemoryStore {
  reads = 0;
  private waiting: Array<() => void> = [];
  constructor(
    request: AccessRequest,
    private readonly together: number,
  ) {
    super(request);
  }
  override async get() {
    const read = structuredClone(this.request);
    this.reads += 1;
    if (this.reads <= this.together) {
      await new Promise<void>((resolve) => {
        this.waiting.push(resolve);
        if (this.waiting.length === this.together) for (const go of this.waiting) go();
      });
    }
    return read;
  }
}

/** Seals histories as DynamoDbRequestStore does when it writes, counting what the key signs. */
class SealingStore extends MemoryStore {
  constructor(
    request: AccessRequest,
    private readonly mac: Mac,
  ) {
    super(request);
  }
  override async replace(next: AccessRequest, condition: { expectedVersion: number }) {
    const history = await sealHistory(next.id, next.history ?? [], this.mac);
    await super.replace({ ...next, history }, condition);
  }
}

function countingMac(): Mac & { signed: number; verified: number } {
  const key = new HmacMac(Buffer.alloc(32, 7));
  const mac = {
    signed: 0,
    verified: 0,
    sign: async (data: string) => {
      mac.signed += 1;
      return key.sign(data);
    },
    verify: async (data: string, value: string) => {
      mac.verified += 1;
      return key.verify(data, value);
    },
  };
  return mac;
}

describe('executing an exact call', () => {
  const input = { TableName: 'orders', Key: { id: { S: '1' } } };

  it('mints a session for exactly that call, ending within minutes, and records it', async () => {
    const store = new MemoryStore(approved(input));
    const policies: string[] = [];
    const made: unknown[] = [];
    const execution = await calls(
      store,
      executor({ ok: true, output: { Item: {} } }, made),
      minter(policies),
    ).execute(caller, 'req_test');
    expect(execution.status).toBe('succeeded');
    expect(made).toHaveLength(1);
    expect(JSON.parse(policies[0]!)).toEqual(
      buildSessionPolicy({ actions: ['dynamodb:GetItem'], resource: TABLE, notAfter: '2026-01-01T10:05:00Z' })
        .document,
    );
    expect(store.sessions.map((s) => s.accessKeyId)).toEqual([fakeAccessKeyId('TESTSESSION00001')]);
    expect(store.request.status).toBe('EXECUTED');
    expect(store.request.execution).toMatchObject({
      status: 'succeeded',
      accessKeyId: fakeAccessKeyId('TESTSESSION00001'),
    });
  });

  it('does not make the call when the stored input no longer matches the approved hash', async () => {
    const store = new MemoryStore(approved(input, inputSha256({ ...input, TableName: 'other' })));
    const made: unknown[] = [];
    const execution = await calls(store, executor({ ok: true, output: {} }, made)).execute(
      caller,
      'req_test',
    );
    expect(made).toHaveLength(0);
    expect(execution).toMatchObject({ status: 'failed', awsError: { code: 'InputChanged' } });
    expect(store.request.status).toBe('EXECUTED');
  });

  it('masks AWS error messages, and records a failed mint as a call not made', async () => {
    const store = new MemoryStore(approved(input));
    const failed = await calls(
      store,
      executor({
        ok: false,
        awsError: { code: 'ConditionalCheckFailedException', message: 'owner ann@example.com' },
      }),
    ).execute(caller, 'req_test');
    expect(failed.awsError).toEqual({
      code: 'ConditionalCheckFailedException',
      message: 'owner [MASKED:email]',
    });

    const other = new MemoryStore(approved(input));
    const broken: CredentialMinter = {
      assumeRole: async () => {
        throw new Error('sts down');
      },
    };
    const made: unknown[] = [];
    const none = await calls(other, executor({ ok: true, output: {} }, made), broken).execute(
      caller,
      'req_test',
    );
    expect(made).toHaveLength(0);
    expect(none.awsError?.code).toBe('SessionNotMinted');
  });

  it('cuts a large masked output to the stored limit, hashing the whole', async () => {
    const store = new MemoryStore(approved(input));
    const big = {
      Items: Array.from({ length: 2000 }, (_, i) => ({
        id: { S: `item-${i}` },
        note: { S: 'x'.repeat(20) },
      })),
    };
    const execution = await calls(store, executor({ ok: true, output: big })).execute(caller, 'req_test');
    expect(execution.outputTruncated).toBe(true);
    expect(typeof execution.output).toBe('string');
    expect((execution.output as string).length).toBe(MAX_OUTPUT_CHARS);
    expect(execution.outputSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses a second execute, even after a failed first one', async () => {
    const store = new MemoryStore(approved(input));
    const use = calls(store, executor({ ok: false, awsError: { code: 'X', message: 'y' } }));
    await use.execute(caller, 'req_test');
    await expect(use.execute(caller, 'req_test')).rejects.toMatchObject({
      code: 'AlreadyExecuted',
      status: 409,
    });
  });

  it('claims on the state it read and verified, without reading it again', async () => {
    const store = new RacingStore(approved(input), 0);
    const execution = await calls(store, executor({ ok: true, output: {} })).execute(caller, 'req_test');
    expect(execution.status).toBe('succeeded');
    expect(store.reads).toBe(1);
  });

  it('of executes that all read the request approved, exactly one claims, mints and calls', async () => {
    const store = new RacingStore(approved(input), 3);
    const made: unknown[] = [];
    const policies: string[] = [];
    const use = calls(store, executor({ ok: true, output: {} }, made), minter(policies));
    const results = await Promise.allSettled([0, 1, 2].map(() => use.execute(caller, 'req_test')));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter((r) => r.status === 'rejected')) {
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'AlreadyExecuted', status: 409 });
    }
    // The losers re-read the claimed request before refusing; only the winner minted and called.
    expect(made).toHaveLength(1);
    expect(policies).toHaveLength(1);
    expect(store.sessions).toHaveLength(1);
    expect(store.request.execution?.status).toBe('succeeded');
  });

  it('signs each new history entry once: the claim is sealed before the result is written on it', async () => {
    const mac = countingMac();
    const base = approved(input);
    const history = await sealHistory(
      base.id,
      appendHistory([], base, 'approved by policy', base.updatedAt),
      mac,
    );
    const store = new SealingStore({ ...base, history }, mac);
    mac.signed = 0;
    const execution = await calls(store, executor({ ok: true, output: {} }), minter(), mac).execute(
      caller,
      'req_test',
    );
    expect(execution.status).toBe('succeeded');
    // The claim's entry and the result's; before, the result's write signed the claim's entry again.
    expect(mac.signed).toBe(2);
    expect(store.request.history?.map((e) => e.event)).toEqual([
      'approved by policy',
      'execution claimed by bot',
      'executed: succeeded',
    ]);
    expect(await verifyKeyedHistory(store.request.history!, store.request, mac)).toEqual({ valid: true });
  });
});

describe('the keyed history check before an execute', () => {
  it('verifies every entry at once (one KMS round trip), and names the first entry that fails', async () => {
    const key = new HmacMac(Buffer.alloc(32, 9));
    const request = approved({});
    // Sealed as the store writes them: each entry when it is appended.
    let history = await sealHistory(
      request.id,
      appendHistory([], request, 'created', NOW.toISOString()),
      key,
    );
    for (const event of ['shown to approvers', 'approved']) {
      history = await sealHistory(request.id, appendHistory(history, request, event, NOW.toISOString()), key);
    }
    let inFlight = 0;
    let most = 0;
    const slow: Mac = {
      sign: (data) => key.sign(data),
      verify: async (data, value) => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight -= 1;
        return key.verify(data, value);
      },
    };
    expect(await verifyKeyedHistory(history, request, slow)).toEqual({ valid: true });
    expect(most).toBe(3);

    const forged = history.map((e, i) => (i >= 1 ? { ...e, mac: history[0]!.mac } : e));
    expect(await verifyKeyedHistory(forged, request, slow)).toEqual({
      valid: false,
      problem: 'entry 2 (shown to approvers) does not verify with the history key',
    });
  });
});
