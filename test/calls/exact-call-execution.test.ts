import { describe, expect, it } from 'vitest';
import { ConditionFailedError } from '../../lambdas/core/errors.js';
import { inputSha256 } from '../../lambdas/core/exact-call.js';
import {
  type CallExecutor,
  type CallOutcome,
  ExactCalls,
  MAX_OUTPUT_CHARS,
} from '../../lambdas/core/exact-call-execution.js';
import { maskingRules } from '../../lambdas/core/masking.js';
import type { AccessRequest, Caller, MintedSession } from '../../lambdas/core/model.js';
import type { CredentialMinter, RequestStore } from '../../lambdas/core/ports.js';
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

function calls(store: MemoryStore, exec: CallExecutor, mint = minter()) {
  return new ExactCalls({
    store: store as unknown as RequestStore,
    minter: mint,
    executor: exec,
    clock: { now: () => NOW },
    masking: maskingRules(undefined),
  });
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
});
