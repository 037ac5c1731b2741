import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inputSha256 } from '../../lambdas/core/exact-call.js';
import { TABLE, TestStack } from '../support/local-stack.js';

/**
 * Issue 15, through the HTTP API of the local stack: exact calls requested, approved in Slack,
 * executed once by Countersign itself, masked, and recorded in the evidence.
 */

type Execution = {
  status: string;
  output?: Record<string, unknown>;
  awsError?: { code: string; message: string };
  masked: string[];
  outputSha256?: string;
  accessKeyId?: string;
};

describe('exact calls on the local stack', () => {
  let stack: TestStack;
  let agent: string;
  let other: string;
  let auditor: string;
  let ddb: DynamoDBClient;

  beforeAll(async () => {
    stack = await TestStack.start();
    agent = await stack.agentToken('deploy-bot');
    other = await stack.agentToken('other-bot');
    auditor = await stack.token('audrey@example.com', ['auditors']);
    // The tables the calls act on.
    const endpoints = (await stack.call('GET', '/local/endpoints')).body as Record<string, string>;
    ddb = new DynamoDBClient({
      region: 'us-east-1',
      // Seeding the "production" data as its owner would: straight into DynamoDB Local, outside Countersign.
      endpoint: endpoints.dynamodb,
      credentials: { accessKeyId: 'LOCALTESTSETUP000001', secretAccessKey: 'local-test-setup' },
    });
    for (const name of ['calls-orders', 'calls-users']) {
      await ddb.send(
        new CreateTableCommand({
          TableName: name,
          AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
    }
    await ddb.send(
      new PutItemCommand({
        TableName: 'calls-users',
        Item: {
          id: { S: 'u-1' },
          password: { S: 'hunter2-correct-horse' },
          email: { S: 'Carol.Customer@example.com' },
          plan: { S: 'gold' },
        },
      }),
    );
  }, 60_000);
  afterAll(async () => {
    ddb?.destroy();
    await stack?.stop();
  });

  const execute = (id: string, token = agent) =>
    stack.call<{ execution: Execution; error?: { code: string } }>('POST', `/v1/requests/${id}/execute`, {
      token,
    });

  it('approves an exact PutItem in Slack showing the exact item, executes it once, and records it', async () => {
    const input = {
      TableName: 'calls-orders',
      Item: { id: { S: '8812' }, status: { S: 'refunded' }, note: { S: '*bold* <!channel> `tick`' } },
    };
    const id = await stack.approvedRequest(agent, 'calls-orders', { call: { input } });

    const read = await stack.call('GET', `/v1/requests/${id}`, { token: agent });
    expect(read.body.call).toEqual({ operation: 'dynamodb:PutItem', input, inputSha256: inputSha256(input) });

    // The approval message showed the exact input, escaped, with its SHA-256.
    const message = stack
      .slackMessages()
      .find((m) => JSON.stringify(m.blocks ?? '').includes(id) && JSON.stringify(m).includes('Exact call'));
    const text = JSON.stringify(message);
    expect(text).toContain(inputSha256(input));
    expect(text).toContain('refunded');
    expect(text).toContain('8812');
    expect(text).not.toContain('<!channel>');

    const first = await execute(id);
    expect(first.status).toBe(200);
    expect(first.body.execution.status).toBe('succeeded');
    expect(first.body.execution.outputSha256).toMatch(/^[0-9a-f]{64}$/);

    // The item is there: the call was made.
    const stored = await ddb.send(
      new GetItemCommand({ TableName: 'calls-orders', Key: { id: { S: '8812' } } }),
    );
    expect(stored.Item?.status?.S).toBe('refunded');

    const second = await execute(id);
    expect(second.status).toBe(409);
    expect(second.body.error?.code).toBe('AlreadyExecuted');

    const after = await stack.call('GET', `/v1/requests/${id}`, { token: agent });
    expect(after.body.status).toBe('EXECUTED');

    // Fact 6 of the evidence is the execution: input hash, output hash, the session it ran under.
    const evidence = await stack.call<{
      evidence: { execution: unknown };
      facts: { activity: string };
      integrity: { valid: boolean };
    }>('GET', `/v1/reports/requests/${id}`, {
      token: auditor,
    });
    expect(evidence.status).toBe(200);
    expect(evidence.body.evidence.execution).toMatchObject({
      status: 'succeeded',
      inputSha256: inputSha256(input),
      outputSha256: first.body.execution.outputSha256,
      accessKeyId: first.body.execution.accessKeyId,
    });
    expect(evidence.body.facts.activity).toBe('present');
    expect(evidence.body.integrity.valid).toBe(true);

    // The access review counts it.
    const review = await stack.call<{ agents: Array<{ agent: string; executions: number }> }>(
      'GET',
      '/v1/reports/access-review',
      { token: auditor },
    );
    expect(review.body.agents.find((a) => a.agent === 'deploy-bot')?.executions).toBeGreaterThanOrEqual(1);
  });

  it('masks a password attribute and an e-mail address in a GetItem and lists their paths', async () => {
    const created = await stack.request(agent, {
      resource: TABLE('calls-users'),
      actions: ['dynamodb:GetItem'],
      call: { input: { TableName: 'calls-users', Key: { id: { S: 'u-1' } } } },
    });
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('APPROVED');
    const answer = await execute(String(created.body.id));
    expect(answer.status).toBe(200);
    const { execution } = answer.body;
    const text = JSON.stringify(execution);
    expect(text).not.toContain('hunter2');
    expect(text.toLowerCase()).not.toContain('carol.customer@example.com');
    expect(execution.output).toMatchObject({ Item: { id: { S: 'u-1' }, plan: { S: 'gold' } } });
    expect(execution.masked).toEqual(expect.arrayContaining(['$.Item.password', '$.Item.email.S']));
    // What is stored is what was returned: masked there too.
    const stored = await stack.call('GET', `/v1/requests/${created.body.id}`, { token: auditor });
    expect(JSON.stringify(stored.body)).not.toContain('hunter2');
  });

  it('refuses credentials for a call request (409 CallOnly) and execute by anyone else (404)', async () => {
    const created = await stack.request(agent, {
      resource: TABLE('calls-users'),
      actions: ['dynamodb:GetItem'],
      call: { input: { TableName: 'calls-users', Key: { id: { S: 'u-1' } } } },
    });
    const id = String(created.body.id);
    const credentials = await stack.call('POST', `/v1/requests/${id}/credentials`, { token: agent });
    expect(credentials.status).toBe(409);
    expect((credentials.body.error as { code: string }).code).toBe('CallOnly');
    const stranger = await execute(id, other);
    expect(stranger.status).toBe(404);
  });

  it('refuses an input naming another table with 400, details.field call', async () => {
    const answer = await stack.request(agent, {
      resource: TABLE('calls-orders'),
      actions: ['dynamodb:PutItem'],
      call: { input: { TableName: 'payments', Item: { id: { S: '1' } } } },
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({
      code: 'ValidationError',
      details: { field: 'call', inputField: 'TableName' },
    });
  });

  it('refuses execute of a pending request (409 NotApproved) and of a session request (409 NotACall)', async () => {
    const pending = await stack.pendingRequest(agent, 'calls-orders', {
      call: { input: { TableName: 'calls-orders', Item: { id: { S: 'p-1' } } } },
    });
    const early = await execute(pending);
    expect(early.status).toBe(409);
    expect(early.body.error?.code).toBe('NotApproved');

    const session = await stack.request(agent, {
      resource: TABLE('calls-users'),
      actions: ['dynamodb:GetItem'],
    });
    const notCall = await execute(String(session.body.id));
    expect(notCall.status).toBe(409);
    expect(notCall.body.error?.code).toBe('NotACall');
  });

  it('runs two concurrent executes of one approval exactly once', async () => {
    const created = await stack.request(agent, {
      resource: TABLE('calls-users'),
      actions: ['dynamodb:GetItem'],
      call: { input: { TableName: 'calls-users', Key: { id: { S: 'u-1' } } } },
    });
    const id = String(created.body.id);
    const answers = await Promise.all([execute(id), execute(id), execute(id)]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409, 409]);
    const sessions = (await stack.call('GET', '/local/sts/sessions')).body as unknown as Array<{
      roleSessionName?: string;
      sessionName?: string;
    }>;
    const minted = sessions.filter((s) => (s.roleSessionName ?? s.sessionName) === id);
    expect(minted).toHaveLength(1);
  });

  it('makes only the AWS calls an execute needs: one read before the claim, each MAC signed once', async () => {
    const created = await stack.request(agent, {
      resource: TABLE('calls-users'),
      actions: ['dynamodb:GetItem'],
      call: { input: { TableName: 'calls-users', Key: { id: { S: 'u-1' } } } },
    });
    const id = String(created.body.id);
    const executeRole = stack.stack.functions.find((f) => f.arn.includes('ExecuteCall'))!.roleArn;
    // Every call through the local AWS is handed to CloudTrail's delivery as it is answered.
    const delivery = stack.stack.delivery;
    const record = delivery.record;
    const made: string[] = [];
    delivery.record = (r) => {
      const identity = r.userIdentity as
        | { sessionContext?: { sessionIssuer?: { arn?: string } } }
        | undefined;
      if (identity?.sessionContext?.sessionIssuer?.arn === executeRole) made.push(String(r.eventName));
      record.call(delivery, r);
    };
    try {
      const answer = await execute(id);
      expect(answer.status).toBe(200);
      expect(answer.body.execution.status).toBe('succeeded');
    } finally {
      delivery.record = record;
    }
    const count = (name: string) => made.filter((n) => n === name).length;
    expect(count('AssumeRole')).toBe(1);
    expect(count('UpdateItem')).toBe(2); // the claim, the result
    expect(count('BatchWriteItem')).toBe(1); // the session and its access-key link
    // The request once before the claim (the store reads it again before writing the result).
    expect(count('GetItem')).toBeLessThanOrEqual(2);
    // The claim's history entry, the session record, the result's entry: each once.
    expect(count('GenerateMac')).toBe(3);
    expect(made.length).toBeLessThanOrEqual(12);
  });

  it('denies a session request under a mode: call rule, with the reason recorded', async () => {
    const queue = 'arn:aws:sqs:us-east-1:111122223333:callonly-refunds';
    const answer = await stack.request(agent, { resource: queue, actions: ['sqs:SendMessage'] });
    expect(answer.status).toBe(201);
    expect(answer.body.status).toBe('DENIED');
    expect(JSON.stringify(answer.body.outcome)).toContain('mode: call');

    const asCall = await stack.request(agent, {
      resource: queue,
      actions: ['sqs:SendMessage'],
      call: {
        input: {
          QueueUrl: 'https://sqs.us-east-1.amazonaws.com/111122223333/callonly-refunds',
          MessageBody: 'hi',
        },
      },
    });
    expect(asCall.status).toBe(201);
    expect(asCall.body.status).toBe('PENDING');
  });
});
