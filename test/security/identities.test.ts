import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../../lambdas/core/config.js';
import { eventually, TABLE, TEST_CONFIG_PATH, TestStack } from '../support/local-stack.js';
import { expectContractError } from './support.js';

/**
 * Threat (issue 12 item 4): one person counted twice, or approving their own request, because two
 * spellings of one identity compared as different strings. Door: the Slack click and the decisions
 * API (approvers), `POST /v1/requests` (`context.onBehalfOf`). Guard: normalizeIdentity at every
 * edge (JWT `sub`, `slack.users`, rule approvers, `onBehalfOf`) and comparison only in that form.
 */

/** The fixture, plus a two-person rule whose approvers include a group (so API approvers count). */
function configWithTwoPersonRule() {
  const raw = parse(readFileSync(TEST_CONFIG_PATH, 'utf8')) as { rules: unknown[] };
  raw.rules.unshift({
    name: 'shared-two-keys',
    match: { accessLevels: ['Write'], resources: ['arn:aws:dynamodb:*:111122223333:table/shared*'] },
    effect: 'approve',
    approvers: ['alice@example.com', 'bob@example.com', 'group:approvers'],
    quorum: 2,
    minReviewSeconds: 0,
  });
  return parseConfig(raw);
}

describe('identities: one person, one normalized form', () => {
  let stack: TestStack;
  let auditor: string;

  beforeAll(async () => {
    stack = await TestStack.start({ config: configWithTwoPersonRule() });
    auditor = await stack.token('auditor@example.com', ['auditors']);
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
  });

  const status = async (id: string, token: string) =>
    (await stack.call('GET', `/v1/requests/${id}`, { token })).body.status;

  it('refuses the Slack user mapped to alice@example.com approving a request made by Alice@Example.com', async () => {
    // Prepare: the requester's JWT spells the identity differently from slack.users.
    const agent = await stack.token('Alice@Example.com', ['agents']);
    const id = await stack.pendingRequest(agent, 'orders');

    // Act
    const click = await stack.click({ requestId: id, userId: 'U0ALICE' });

    // Assess: refused as self-approval, nothing approved, and the attempt is evidence.
    expect(click.body).toMatchObject({ ok: false, code: 'SelfApproval' });
    expect(await status(id, agent)).toBe('PENDING');
    const evidence = await eventually(async () => {
      const answer = await stack.call('GET', `/v1/reports/requests/${id}`, { token: auditor });
      const findings = (answer.body.findings ?? []) as Array<{ type: string }>;
      return findings.some((f) => f.type === 'SELF_APPROVAL_ATTEMPT') ? answer : undefined;
    });
    expect(evidence.status).toBe(200);
    expect((evidence.body.request as { requester: { sub: string } }).requester.sub).toBe('alice@example.com');
  });

  it('does not let alice@example.com (Slack) and Alice@example.com (API) meet a quorum of two', async () => {
    // Prepare
    const agent = await stack.agentToken('ledger-bot');
    const id = await stack.pendingRequest(agent, 'shared-ledger');
    const first = await stack.click({ requestId: id, userId: 'U0ALICE' });
    expect(first.body).toMatchObject({ ok: true, outcome: 'approved' });
    expect(await status(id, agent)).toBe('PENDING');
    const aliceAgain = await stack.token('Alice@example.com', ['approvers']);

    // Act
    const second = await stack.call('POST', `/v1/requests/${id}/decisions`, {
      token: aliceAgain,
      body: { decision: 'approve' },
    });

    // Assess: the same person cannot vote twice; a different approver still can.
    expectContractError(second, 409, 'AlreadyDecided');
    expect(await status(id, agent)).toBe('PENDING');
    const bob = await stack.click({ requestId: id, userId: 'U0BOB' });
    expect(bob.body).toMatchObject({ ok: true });
    expect(await status(id, agent)).toBe('APPROVED');
  });

  it.each([
    ['upper case', 'ALICE@example.com'],
    ['a trailing space', 'alice@example.com '],
    ['a Cyrillic look-alike (а U+0430)', '\u0430lice@example.com'],
    ['a full-width look-alike', '\uff41lice@example.com'],
    ['a zero-width space', 'ali\u200bce@example.com'],
  ])('refuses an onBehalfOf written with %s', async (_label, onBehalfOf) => {
    // Prepare
    const agent = await stack.agentToken('proxy-bot');

    // Act
    const answer = await stack.request(agent, {
      resource: TABLE('orders'),
      actions: ['dynamodb:PutItem'],
      context: { onBehalfOf },
    });

    // Assess
    expectContractError(answer, 400, 'ValidationError');
    expect((answer.body as { error: { details?: unknown } }).error.details).toMatchObject({
      field: 'context.onBehalfOf',
    });
  });

  it.each([
    ['a dotless ı', 'al\u0131ce@example.com'],
    ['an accent', 'alic\u00e9@example.com'],
  ])(
    'refuses alice approving a request on behalf of a name that reads like hers (%s)',
    async (_label, onBehalfOf) => {
      // Prepare: normal form and one script, so accepted as a claim ...
      const agent = await stack.agentToken('proxy-bot');
      const id = await stack.pendingRequest(agent, 'orders', { context: { onBehalfOf } });

      // Act: ... but alice may not approve what reads as her own request.
      const click = await stack.click({ requestId: id, userId: 'U0ALICE' });

      // Assess
      expect(click.body).toMatchObject({ ok: false, code: 'SelfApproval' });
      expect(await status(id, agent)).toBe('PENDING');
    },
  );

  it('still refuses the person an onBehalfOf in normal form names', async () => {
    // Prepare: the normal form is accepted (not everything is refused) ...
    const agent = await stack.agentToken('proxy-bot');
    const id = await stack.pendingRequest(agent, 'orders', { context: { onBehalfOf: 'alice@example.com' } });

    // Act: ... and alice, under a differently spelled JWT, is still the person it names.
    const alice = await stack.token('ALICE@EXAMPLE.COM', ['approvers']);
    const answer = await stack.call('POST', `/v1/requests/${id}/decisions`, {
      token: alice,
      body: { decision: 'approve' },
    });

    // Assess
    expectContractError(answer, 403, 'SelfApproval');
    expect(await status(id, agent)).toBe('PENDING');
  });
});
