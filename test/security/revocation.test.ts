import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REVOCATION_SLOTS, revocationPolicyName } from '../../lambdas/adapters/iam-revoker.js';
import { loadConfigFile } from '../../lib/local/config-file.js';
import { type ApiAnswer, TABLE, TEST_CONFIG_PATH, TestStack } from '../support/local-stack.js';
import { expectContractError } from './support.js';

type Creds = { AccessKeyId: string; SecretAccessKey: string; SessionToken: string; Expiration: string };

/** How many of its own reads the attacker claims and revokes: more than the ~47 that filled the one policy. */
const FLOOD = 60;

/**
 * Threat: an agent switching revocation off for everyone by filling the target role's revocation
 * policy with its own self-revoked grants (each used to add a ~210-character Deny kept until
 * notAfter + 1 h, and the ~47th filled IAM's 10,240 characters, so every later revoke answered
 * 500), or racing revokes until some are lost. Door: `POST /v1/requests/{id}/revoke`.
 * Guards: Revocations (only minted sessions, until their expiry; per-agent rate limit) and
 * IamSessionRevoker (compact statements over several slots, versioned ledger, capacity fallback).
 */
describe('revocation cannot be exhausted or contended away', () => {
  let stack: TestStack;
  let attacker: string;
  let victim: string;
  let auditor: string;

  beforeAll(async () => {
    const config = loadConfigFile(TEST_CONFIG_PATH);
    stack = await TestStack.start({
      config: {
        ...config,
        limits: { ...config.limits, revokesPerMinutePerAgent: FLOOD, claimsPerMinutePerAgent: 1000 },
      },
    });
    attacker = await stack.agentToken('greedy-bot');
    victim = await stack.agentToken('orders-bot');
    auditor = await stack.token('auditor@example.com', ['auditors']);
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
  });

  /** The revocation policies on the target role, as the local IAM holds them ('' for an empty slot). */
  async function revocationPolicies(): Promise<string[]> {
    const stored = stack.stack.aws.rolePolicies('countersign-target');
    return Array.from({ length: REVOCATION_SLOTS }, (_, slot) => stored[revocationPolicyName(slot)] ?? '');
  }
  const claim = (id: string, token: string) =>
    stack.call<Creds>('POST', `/v1/requests/${id}/credentials`, { token });
  const works = (creds: Creds) => stack.sessionWorks(creds);
  async function autoAllowedRead(token: string, table: string): Promise<string> {
    const created = await stack.request(token, { resource: TABLE(table), actions: ['dynamodb:GetItem'] });
    expect(created).toMatchObject({ status: 201, body: { status: 'APPROVED' } });
    return String(created.body.id);
  }

  it('an agent that claims and revokes many reads of its own cannot stop an auditor revoking another agent’s grant', async () => {
    // Prepare: the victim's approved write, claimed and working
    const grant = await stack.approvedRequest(victim, 'orders');
    const live = await claim(grant, victim);
    expect(live.status).toBe(200);
    expect(await works(live.body)).toBe(true);

    // Act: the attacker fills as before — auto-allowed reads, each claimed and given back
    const answers: ApiAnswer[] = [];
    for (let i = 0; i < FLOOD; i++) {
      const id = await autoAllowedRead(attacker, `flood-${i}`);
      expect((await claim(id, attacker)).status).toBe(200);
      answers.push(await stack.call('POST', `/v1/requests/${id}/revoke`, { token: attacker }));
    }
    const auditorRevoke = await stack.call('POST', `/v1/requests/${grant}/revoke`, { token: auditor });

    // Assess: every revoke went through, the auditor's too, and the victim's session stopped
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    expect(auditorRevoke).toMatchObject({ status: 200, body: { status: 'REVOKED' } });
    expect(await works(live.body)).toBe(false);
    expect(stack.logs.join('\n')).not.toContain('RevocationFailed');
  }, 180_000);

  it('the next self-revoke in the same minute is 429 RateLimited with Retry-After, and writes nothing', async () => {
    // Prepare: the attacker used its minute's budget above (or does so now)
    let answer: ApiAnswer | undefined;
    let id = '';
    for (let i = 0; i <= FLOOD && answer?.status !== 429; i++) {
      id = await autoAllowedRead(attacker, `more-${i}`);
      answer = await stack.call('POST', `/v1/requests/${id}/revoke`, { token: attacker });
    }

    // Assess
    expectContractError(answer!, 429, 'RateLimited');
    const retryAfter = Number(answer!.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(answer!.body).toMatchObject({ error: { details: { retryAfterSeconds: retryAfter } } });
    const after = await stack.call('GET', `/v1/requests/${id}`, { token: attacker });
    expect(after.body.status).toBe('APPROVED');
  });

  it('a read revoked before any claim writes no deny at all (only minted sessions are denied)', async () => {
    // Prepare
    const id = await autoAllowedRead(victim, 'unclaimed');
    const before = await revocationPolicies();

    // Act
    const answer = await stack.call('POST', `/v1/requests/${id}/revoke`, { token: victim });

    // Assess
    expect(answer).toMatchObject({ status: 200, body: { status: 'REVOKED' } });
    expect(await revocationPolicies()).toEqual(before);
    expect(before.join('')).not.toContain(id);
  });

  it('50 concurrent revokes by an auditor: every revoked session is denied afterwards, others keep working', async () => {
    // Prepare: 50 claimed reads of one agent, and one that is not revoked
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) ids.push(await autoAllowedRead(victim, `burst-${i}`));
    const sessions = await Promise.all(ids.map((id) => claim(id, victim)));
    expect(sessions.map((s) => s.status)).toEqual(ids.map(() => 200));
    const bystanderId = await autoAllowedRead(victim, 'bystander');
    const bystander = await claim(bystanderId, victim);

    // Act
    const answers = await Promise.all(
      ids.map((id) => stack.call('POST', `/v1/requests/${id}/revoke`, { token: auditor })),
    );

    // Assess
    expect(answers.map((a) => a.status)).toEqual(ids.map(() => 200));
    const stillWorking = await Promise.all(sessions.map((s) => works(s.body)));
    expect(stillWorking).toEqual(ids.map(() => false));
    expect(await works(bystander.body)).toBe(true);
  }, 120_000);
});
