import { describe, expect, it } from 'vitest';
import { summarizeActivity } from '../../lambdas/core/activity.js';
import {
  AlreadyDecidedError,
  DependencyError,
  NotFoundError,
  SelfApprovalError,
  TooFastError,
} from '../../lambdas/core/errors.js';
import type {
  AccessRequest,
  Decision,
  LinkedEvent,
  PolicyDocument,
  RequestStatus,
} from '../../lambdas/core/model.js';
import type { SlackMessage } from '../../lambdas/core/ports.js';
import { buildActivitySummary } from '../../lambdas/core/slack/activity-summary.js';
import { formatDuration, SLACK_LIMITS } from '../../lambdas/core/slack/blocks.js';
import {
  buildClickAnswer,
  type ClickOutcome,
  clickOutcomeFromError,
} from '../../lambdas/core/slack/click-answers.js';
import { buildApprovalMessage, buildOutcomeMessage } from '../../lambdas/core/slack/request-messages.js';

const REQUEST_ID = 'req_abcdefghij0123456789';
const RESOURCE = 'arn:aws:dynamodb:us-east-1:111122223333:table/orders';

const POLICY: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [
    {
      Sid: 'Countersign',
      Effect: 'Allow',
      Action: ['dynamodb:PutItem'],
      Resource: [RESOURCE],
      Condition: { DateLessThan: { 'aws:CurrentTime': '2024-05-01T12:15:00Z' } },
    },
  ],
};

function request(over: Partial<AccessRequest> = {}): AccessRequest {
  return {
    id: REQUEST_ID,
    status: 'PENDING',
    requester: { sub: 'deploy-bot', issuer: 'https://issuer.example', groups: ['agents'] },
    resource: RESOURCE,
    actions: ['dynamodb:PutItem'],
    reason: 'Backfill order 8812 after the failed batch (INC-2291)',
    context: {
      task: 'INC-2291',
      runId: 'run-77',
      toolCallId: 'call_9',
      model: 'model-x',
      onBehalfOf: 'carol@example.com',
    },
    durationSeconds: 900,
    createdAt: '2024-05-01T12:00:00.000Z',
    updatedAt: '2024-05-01T12:00:00.000Z',
    policy: {
      rule: 'writes',
      effect: 'approve',
      accessLevels: ['Write'],
      quorum: 2,
      approvers: ['alice@example.com', 'bob@example.com'],
      approvalTimeoutSeconds: 3600,
      minReviewSeconds: 5,
    },
    decisions: [],
    shownAt: '2024-05-01T12:00:01.000Z',
    version: 1,
    ...over,
  };
}

const HISTORY = { requests7d: 12, denied7d: 1 };

const HOSTILE_REASON = [
  '<!channel> <!here> <!everyone> @channel @here <@U123> <@W999|boss> <#C0123456789> <!subteam^S0123|@oncall>',
  '*URGENT* _approved by security_ ~ignore~ `rm -rf` ```code``` > quoted',
  ':white_check_mark: APPROVED by security :lock:',
  '<https://evil.example/login|Open the runbook> https://evil.example/phish mailto:x@evil.example',
  'control:\u0000\u0007\u001b[31m\u202eevil\u2066\u200b\ufeff',
  'x'.repeat(10_000),
].join('\n');

const HOSTILE_CONTEXT = {
  task: '<!channel> *task*',
  runId: '\u0000\u202e<@U123>',
  toolCallId: 'a'.repeat(5000),
  model: '<https://evil.example|gpt>',
  onBehalfOf: '<@U0ALICE> alice@example.com',
} as const;

type TextObject = { type: string; text: string; verbatim?: boolean; emoji?: boolean };

/** Every text object in a message, with the path it sits at. */
function textObjects(value: unknown, path = ''): Array<{ path: string; obj: TextObject }> {
  if (Array.isArray(value)) return value.flatMap((v, i) => textObjects(v, `${path}[${i}]`));
  if (typeof value !== 'object' || value === null) return [];
  const rec = value as Record<string, unknown>;
  const own =
    (rec.type === 'mrkdwn' || rec.type === 'plain_text') && typeof rec.text === 'string'
      ? [{ path, obj: rec as unknown as TextObject }]
      : [];
  return [...own, ...Object.entries(rec).flatMap(([k, v]) => textObjects(v, `${path}.${k}`))];
}

/** Slack's Block Kit limits, checked the way Slack would refuse the message. */
function expectWithinBlockKitLimits(message: SlackMessage): void {
  expect(message.text.length).toBeGreaterThan(0);
  expect(message.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fallbackText);
  expect(message.blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
  for (const block of message.blocks) {
    switch (block.type) {
      case 'header': {
        const text = block.text as TextObject;
        expect(text.type).toBe('plain_text');
        expect(text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.header);
        break;
      }
      case 'section': {
        const text = block.text as TextObject;
        expect(text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
        break;
      }
      case 'context': {
        const elements = block.elements as TextObject[];
        expect(elements.length).toBeLessThanOrEqual(SLACK_LIMITS.contextElements);
        for (const e of elements) expect(e.text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
        break;
      }
      case 'actions': {
        for (const button of block.elements as Array<Record<string, unknown>>) {
          expect(String(button.value).length).toBeLessThanOrEqual(SLACK_LIMITS.buttonValue);
          expect((button.text as TextObject).text.length).toBeLessThanOrEqual(SLACK_LIMITS.buttonText);
          const confirm = button.confirm as Record<string, TextObject> | undefined;
          if (confirm) {
            expect(confirm.title?.text.length).toBeLessThanOrEqual(SLACK_LIMITS.confirmTitle);
            expect(confirm.text?.text.length).toBeLessThanOrEqual(SLACK_LIMITS.confirmText);
            expect(confirm.confirm?.text.length).toBeLessThanOrEqual(SLACK_LIMITS.confirmButton);
            expect(confirm.deny?.text.length).toBeLessThanOrEqual(SLACK_LIMITS.confirmButton);
          }
        }
        break;
      }
      case 'divider':
        break;
      default:
        throw new Error(`unexpected block type ${String(block.type)}`);
    }
  }
  for (const { path, obj } of textObjects(message.blocks)) {
    expect(obj.text.length, path).toBeGreaterThan(0);
    if (obj.type === 'mrkdwn') expect(obj.verbatim, `${path} must be verbatim`).toBe(true);
  }
}

/** Nothing in the message can ping, link, or smuggle control characters. */
function expectInert(message: SlackMessage): void {
  const all = [message.text, ...textObjects(message.blocks).map((t) => t.obj.text)];
  for (const text of all) {
    // The only angle-bracket sequence we emit ourselves is Slack's date formatting.
    const withoutDates = text.replace(/<!date\^\d+\^\{date_short_pretty\} \{time\}\|[0-9TZ:-]+>/g, '');
    expect(withoutDates).not.toMatch(/</);
    expect(text).not.toMatch(/@(channel|here|everyone)\b/i);
    expect(text).not.toMatch(/https?:\/\//);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting their absence
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f\u202a-\u202e\u2066-\u2069\u200b\ufeff]/);
  }
}

function mrkdwnTexts(message: SlackMessage): string {
  return textObjects(message.blocks)
    .map((t) => t.obj.text)
    .join('\n');
}

describe('buildApprovalMessage', () => {
  it('shows the server-derived facts, the agent words labelled, and two buttons carrying the request id', () => {
    // Act
    const message = buildApprovalMessage({ request: request(), sessionPolicy: POLICY, history: HISTORY });
    // Assess
    expectWithinBlockKitLimits(message);
    expectInert(message);
    const text = mrkdwnTexts(message);
    expect(text).toContain('`deploy-bot`');
    expect(text).toContain(`\`${RESOURCE}\``);
    expect(text).toContain('`dynamodb:PutItem`');
    expect(text).toContain('*Access level:* Write');
    expect(text).toContain('*Approvals needed:* 2');
    expect(text).toContain('15 min');
    expect(text).toContain('12 requests, 1 denied');
    expect(text).toContain("the agent's own words, not verified");
    expect(text).toContain('> Backfill order 8812 after the failed batch (INC-2291)');
    expect(text).toContain('claimed by the agent, not verified');
    expect(text).toContain('"aws:CurrentTime": "2024-05-01T12:15:00Z"');
    expect(message.text).toContain('deploy-bot');
    expect(message.text).not.toContain('Backfill'); // the agent's words never reach a push notification

    const actions = message.blocks.filter((b) => b.type === 'actions');
    expect(actions).toHaveLength(1);
    const [approve, deny] = (actions[0]?.elements ?? []) as Array<Record<string, unknown>>;
    expect(approve).toMatchObject({
      type: 'button',
      action_id: 'approve',
      style: 'primary',
      value: REQUEST_ID,
    });
    expect(approve?.confirm).toBeDefined();
    expect(deny).toMatchObject({ type: 'button', action_id: 'deny', style: 'danger', value: REQUEST_ID });
  });

  it('says "500+" when the agent made more requests than were counted', () => {
    const message = buildApprovalMessage({
      request: request(),
      sessionPolicy: POLICY,
      history: { requests7d: 500, denied7d: 40, capped: true },
    });
    expect(mrkdwnTexts(message)).toContain('*This agent, last 7 days:* 500+ requests, 40+ denied');
  });

  it('stays inert and within limits with a hostile reason and context', () => {
    // Prepare
    const hostile = request({
      reason: HOSTILE_REASON,
      context: HOSTILE_CONTEXT,
      requester: { sub: '<!channel> *bot*\u202e', issuer: 'https://issuer.example/<@U1>', groups: [] },
    });
    // Act
    const message = buildApprovalMessage({ request: hostile, sessionPolicy: POLICY, history: HISTORY });
    // Assess
    expectWithinBlockKitLimits(message);
    expectInert(message);
    const reasonBlock = message.blocks.find((b) => JSON.stringify(b).includes("agent's own words"));
    const reasonText = (reasonBlock?.text as TextObject | undefined)?.text ?? '';
    const agentPart = reasonText.slice(reasonText.indexOf('\n'));
    expect(agentPart).not.toMatch(/[*_~`]/); // no formatting markers survive from the agent
    expect(agentPart).not.toMatch(/:[a-z0-9ˍ+'-]+:/i); // no emoji shortcode can pose as a status
    expect(agentPart).toContain('&lt;!channel&gt;');
    expect(agentPart).toContain('&lt;@U123&gt;');
    expect(agentPart).toContain('https[:]//evil.example/phish');
    expect(agentPart.endsWith('…')).toBe(true); // 10,000 characters were cut, visibly
    for (const line of agentPart.slice(1).split('\n')) expect(line.startsWith('>')).toBe(true);
  });

  it('stays inert with hostile text in the decisions so far', () => {
    const decisions: Decision[] = [
      {
        approver: 'alice@example.com',
        decision: 'approve',
        channel: 'api',
        at: '2024-05-01T12:01:00Z',
        comment: '<!here> lgtm *ok*',
      },
    ];
    const message = buildApprovalMessage({
      request: request({ decisions }),
      sessionPolicy: POLICY,
      history: HISTORY,
    });
    expectWithinBlockKitLimits(message);
    expectInert(message);
    expect(mrkdwnTexts(message)).toContain('1 of 2 approvals');
  });

  it('shortens a session policy too long for one block, and says so', () => {
    // Prepare: a policy whose JSON is far past 3,000 characters.
    const big: PolicyDocument = {
      Version: '2012-10-17',
      Statement: Array.from({ length: 40 }, (_, i) => ({
        Sid: `S${i}`,
        Effect: 'Allow' as const,
        Action: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
        Resource: [`${RESOURCE}-${i}`],
      })),
    };
    expect(JSON.stringify(big, null, 2).length).toBeGreaterThan(SLACK_LIMITS.sectionText);
    // Act
    const message = buildApprovalMessage({ request: request(), sessionPolicy: big, history: HISTORY });
    // Assess
    expectWithinBlockKitLimits(message);
    const text = mrkdwnTexts(message);
    expect(text).toContain('Session policy shortened for display');
    expect(text).toMatch(/…```/);
  });

  it('shows a policy that fits without a note', () => {
    const message = buildApprovalMessage({ request: request(), sessionPolicy: POLICY, history: HISTORY });
    expect(mrkdwnTexts(message)).not.toContain('shortened');
  });

  it('stays within limits at every maximum the contract allows', () => {
    // Prepare: 10 long action names, a 2,048-character ARN, a 2,000-character reason of '&'.
    const actions = Array.from({ length: 10 }, (_, i) => `dynamodb:${'X'.repeat(90)}${i}`);
    const long = request({
      actions,
      resource: `${RESOURCE}/${'a'.repeat(2000)}`,
      reason: '&'.repeat(2000),
      requester: { sub: 's'.repeat(500), issuer: `https://${'i'.repeat(500)}`, groups: [] },
      decisions: Array.from({ length: 15 }, (_, i) => ({
        approver: `approver-${i}@example.com`,
        decision: 'approve' as const,
        channel: 'slack' as const,
        at: '2024-05-01T12:01:00Z',
        comment: '<'.repeat(1000),
      })),
    });
    // Act
    const message = buildApprovalMessage({
      request: long,
      sessionPolicy: POLICY,
      history: HISTORY,
      roleArn: 'arn:aws:iam::111122223333:role/countersign-target',
    });
    // Assess
    expectWithinBlockKitLimits(message);
    expectInert(message);
  });
});

describe('buildOutcomeMessage', () => {
  const approved = request({
    status: 'APPROVED',
    decisions: [
      { approver: 'alice@example.com', decision: 'approve', channel: 'slack', at: '2024-05-01T12:01:00Z' },
      { approver: 'bob@example.com', decision: 'approve', channel: 'api', at: '2024-05-01T12:02:00Z' },
    ],
    grant: {
      resource: RESOURCE,
      actions: ['dynamodb:PutItem'],
      roleArn: 'arn:aws:iam::111122223333:role/countersign-target',
      notAfter: '2024-05-01T12:17:00Z',
      durationSeconds: 900,
      grantedAt: '2024-05-01T12:02:00Z',
      sessionPolicy: POLICY,
    },
  });

  const cases: Array<[RequestStatus, AccessRequest, RegExp[]]> = [
    [
      'APPROVED',
      approved,
      [/\*Approved\* by \*alice@example\.com\*, \*bob@example\.com\*/, /Access until <!date\^1714565820\^/],
    ],
    [
      'DENIED',
      request({
        status: 'DENIED',
        decisions: [
          {
            approver: 'bob@example.com',
            decision: 'deny',
            channel: 'slack',
            at: '2024-05-01T12:01:00Z',
            comment: 'not now <!channel> *really*',
          },
        ],
        outcome: { reason: 'denied', by: 'bob@example.com', at: '2024-05-01T12:01:00Z' },
      }),
      [/\*Denied\* by \*bob@example\.com\*/, /> not now &lt;!channel&gt; ∗really∗/],
    ],
    [
      'TIMED_OUT',
      request({ status: 'TIMED_OUT', outcome: { reason: 'timeout', at: '2024-05-01T13:00:01Z' } }),
      [/\*Timed out\*/, /Nothing was granted/],
    ],
    [
      'EXPIRED',
      { ...approved, status: 'EXPIRED' },
      [/\*Expired\*: approved by \*alice@example\.com\*/, /access ended <!date\^1714565820\^/],
    ],
    [
      'REVOKED',
      {
        ...approved,
        status: 'REVOKED',
        outcome: { reason: 'Rotated <@U1> keys', by: 'carol@example.com', at: '2024-05-01T12:05:00Z' },
      },
      [/\*Revoked\* by \*carol@example\.com\*/, /Rotated &lt;@U1&gt; keys/],
    ],
  ];

  it.each(cases)('%s: says who and when, keeps no buttons', (_status, req, expected) => {
    // Act
    const message = buildOutcomeMessage({ request: req, history: HISTORY });
    // Assess
    expectWithinBlockKitLimits(message);
    expectInert(message);
    expect(message.blocks.some((b) => b.type === 'actions')).toBe(false);
    expect(JSON.stringify(message.blocks)).not.toContain('"action_id"');
    const text = mrkdwnTexts(message);
    for (const pattern of expected) expect(text).toMatch(pattern);
  });

  it('keeps the hostile reason inert after the outcome too', () => {
    const message = buildOutcomeMessage({
      request: { ...approved, reason: HOSTILE_REASON, context: HOSTILE_CONTEXT },
    });
    expectWithinBlockKitLimits(message);
    expectInert(message);
  });

  it('DENIED without a deny decision (the workflow failed) shows why', () => {
    const failed = request({
      status: 'DENIED',
      outcome: {
        reason: 'The approval workflow failed (States.Timeout <!here>); nothing was granted.',
        at: '2024-05-01T12:01:00Z',
      },
    });
    const message = buildOutcomeMessage({ request: failed });
    expectInert(message);
    expect(mrkdwnTexts(message)).toContain(
      '> The approval workflow failed (States.Timeout &lt;!here&gt;); nothing was granted.',
    );
  });

  it('refuses a PENDING request, which has no outcome yet', () => {
    expect(() => buildOutcomeMessage({ request: request() })).toThrow(/PENDING/);
  });
});

describe('buildActivitySummary', () => {
  let n = 0;
  /** A linked call made with a grant's session (`minting: true` makes it the record of a minting). */
  const linked = (over: Partial<LinkedEvent> & { eventName: string }): LinkedEvent => ({
    requestId: REQUEST_ID,
    eventId: `event-${++n}`,
    eventTime: `2024-05-01T12:05:${String(n % 60).padStart(2, '0')}Z`,
    eventSource: 'dynamodb.amazonaws.com',
    resources: [RESOURCE],
    linkedBy: 'accessKeyId',
    minted: true,
    ...over,
  });
  const summary = (events: LinkedEvent[]) => buildActivitySummary(summarizeActivity({ events }));

  it('summarises calls, denials and the most frequent event names', () => {
    // Prepare
    const events = [
      ...Array.from({ length: 5 }, () => linked({ eventName: 'PutItem' })),
      linked({ eventName: 'DeleteItem', errorCode: 'AccessDenied' }),
      linked({ eventName: '<!channel>*x*' }),
    ];
    // Act
    const message = summary(events);
    // Assess
    expectWithinBlockKitLimits(message);
    expectInert(message);
    expect(message.text).toBe('Grant ended. 7 API calls recorded under it, 1 denied.');
    const text = mrkdwnTexts(message);
    expect(text).toContain('`PutItem` ×5');
    expect(text).toMatch(/`DeleteItem` ×1 — :warning: `AccessDenied`/);
    expect(text.indexOf('PutItem')).toBeLessThan(text.indexOf('DeleteItem'));
  });

  it('counts an agent’s own AssumeRole as a call, and its failure as denied, but never the minting', () => {
    // Prepare: Countersign minting the session, then the session chaining into another role twice
    const sts = { eventName: 'AssumeRole', eventSource: 'sts.amazonaws.com' };
    const events = [
      linked({ ...sts, linkedBy: 'roleSessionName', minting: true }),
      linked({ ...sts, minting: false }),
      linked({ ...sts, minting: false, errorCode: 'AccessDenied' }),
    ];
    // Act
    const message = summary(events);
    // Assess
    expect(message.text).toBe('Grant ended. 2 API calls recorded under it, 1 denied.');
    const text = mrkdwnTexts(message);
    expect(text).toContain('• `AssumeRole` ×1\n');
    expect(text).toMatch(/`AssumeRole` ×1 — :warning: `AccessDenied`/);
  });

  it('takes the linker’s totals when the events were cut short, and says so', () => {
    const message = buildActivitySummary(
      summarizeActivity({
        events: [linked({ eventName: 'PutItem' })],
        truncated: true,
        counters: { calls: 2500, denied: 3, unlinked: 0, resources: [] },
      }),
    );
    expectWithinBlockKitLimits(message);
    expect(message.text).toBe('Grant ended. 2500 API calls recorded under it, 3 denied.');
    expect(mrkdwnTexts(message)).toMatch(/Too many events to read them all/);
  });

  it('says when nothing was done', () => {
    const message = summary([]);
    expectWithinBlockKitLimits(message);
    expect(message.text).toMatch(/No API calls/);
  });

  it('stays short with many kinds of call', () => {
    const events = Array.from({ length: 500 }, (_, i) =>
      linked({ eventName: `Event${'x'.repeat(200)}${i}` }),
    );
    const message = summary(events);
    expectWithinBlockKitLimits(message);
    expect(mrkdwnTexts(message)).toContain('485 more kinds of call not shown');
  });
});

describe('buildClickAnswer', () => {
  const outcomes: Array<[ClickOutcome, string]> = [
    [{ kind: 'approved', approvals: 1, quorum: 2 }, 'Approved — 1 of 2 approvals'],
    [{ kind: 'approved', approvals: 2, quorum: 2 }, 'Approved — 2 of 2 approvals. Access is granted.'],
    [{ kind: 'denied' }, 'Denied. Nothing was granted.'],
    [{ kind: 'self-approval' }, 'You cannot approve your own request'],
    [{ kind: 'not-an-approver' }, 'You are not an approver for this request'],
    [{ kind: 'unknown-user' }, 'Your Slack account is not mapped to a Countersign approver'],
    [{ kind: 'too-fast', minReviewSeconds: 5 }, 'Too fast: take at least 5 seconds to review'],
    [{ kind: 'already-decided' }, 'Already decided'],
    [{ kind: 'already-decided', status: 'TIMED_OUT' }, 'Already decided: timed out'],
    [{ kind: 'timed-out' }, 'Too late: this request timed out'],
    [{ kind: 'not-found' }, 'This request no longer exists'],
    [
      { kind: 'recorded-unfinished', status: 'APPROVED' },
      'Your decision was recorded (approved), but Countersign could not finish it yet. Click again to finish.',
    ],
    [{ kind: 'failed' }, 'Something went wrong; nothing changed. Try again in a moment.'],
  ];

  it.each(outcomes)('%j → %s', (outcome, expected) => {
    const answer = buildClickAnswer(outcome);
    expect(answer).toBe(expected);
    expect(answer).not.toMatch(/[<>&*_~`]/);
  });

  it('maps the decision path errors to answers', () => {
    expect(clickOutcomeFromError(new SelfApprovalError('no'))).toEqual({ kind: 'self-approval' });
    expect(clickOutcomeFromError(new AlreadyDecidedError('no'))).toEqual({ kind: 'already-decided' });
    expect(clickOutcomeFromError(new AlreadyDecidedError('no', { details: { status: 'APPROVED' } }))).toEqual(
      {
        kind: 'already-decided',
        status: 'APPROVED',
      },
    );
    expect(clickOutcomeFromError(new AlreadyDecidedError('no', { details: { status: 'toString' } }))).toEqual(
      {
        kind: 'already-decided',
      },
    );
    expect(clickOutcomeFromError(new NotFoundError('no'))).toEqual({ kind: 'not-found' });
    expect(clickOutcomeFromError(new TooFastError('no', { details: { minReviewSeconds: 7 } }))).toEqual({
      kind: 'too-fast',
      minReviewSeconds: 7,
    });
    // A dependency failure after the decision was written is not "nothing changed".
    expect(
      clickOutcomeFromError(new DependencyError('no', { details: { recorded: true, status: 'DENIED' } })),
    ).toEqual({ kind: 'recorded-unfinished', status: 'DENIED' });
    expect(clickOutcomeFromError(new DependencyError('no'))).toEqual({ kind: 'failed' });
    expect(clickOutcomeFromError(new Error('ECONNRESET'))).toEqual({ kind: 'failed' });
    // The class decides, not a `code` field anyone could put on an object.
    expect(clickOutcomeFromError({ code: 'SelfApproval' })).toEqual({ kind: 'failed' });
    expect(clickOutcomeFromError({ code: 'AlreadyDecided', details: { status: 'APPROVED' } })).toEqual({
      kind: 'failed',
    });
    expect(clickOutcomeFromError(undefined)).toEqual({ kind: 'failed' });
  });
});

describe('formatDuration', () => {
  it.each([
    [45, '45 s'],
    [900, '15 min'],
    [3600, '1 h'],
    [5400, '1 h 30 min'],
    [43_200, '12 h'],
    [90, '1 min 30 s'],
  ])('%d s → %s', (seconds, expected) => {
    expect(formatDuration(seconds)).toBe(expected);
  });
});
