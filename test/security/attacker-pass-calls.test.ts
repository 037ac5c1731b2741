import { createHash } from 'node:crypto';
import {
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inputSha256 } from '../../lambdas/core/exact-call.js';
import { GENESIS_HASH, snapshotOf } from '../../lambdas/core/history.js';
import { buildSessionPolicy } from '../../lambdas/core/session-policy.js';
import { loadConfigFile } from '../../lib/local/config-file.js';
import { TABLE, TEST_CONFIG_PATH, TestStack } from '../support/local-stack.js';

/**
 * An attacker's pass over exact calls (issue 15): an agent that smuggles a second resource into
 * an approved input, evades masking, replays or steals an execute. Every test asserts the safe
 * behaviour, through the HTTP API of the local assembly, with real JWTs and real Slack signatures.
 */

type Execution = {
  status: string;
  output?: unknown;
  outputTruncated?: boolean;
  awsError?: { code: string; message: string };
  masked: string[];
};
type ErrorBody = { error?: { code: string; message: string; details?: Record<string, unknown> } };

const USERS = 'atk-users';
const BUCKET = 'atk-bucket';
const PEM =
  '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7atkpassLEAKME\nZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ\n-----END PRIVATE KEY-----\n';
const SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKY';

describe('attacker pass: exact calls', () => {
  let stack: TestStack;
  let agent: string;
  let other: string;
  let alice: string;
  let auditor: string;
  let ddb: DynamoDBClient;
  let s3: S3Client;

  beforeAll(async () => {
    // The fixture, with the test bucket reachable through the target role (S3 ARNs name no account).
    const fixture = loadConfigFile(TEST_CONFIG_PATH);
    const [target, ...rest] = fixture.targets;
    stack = await TestStack.start({
      config: {
        ...fixture,
        targets: [{ ...target!, resources: [`arn:aws:s3:::${BUCKET}`, `arn:aws:s3:::${BUCKET}/*`] }, ...rest],
      },
    });
    agent = await stack.agentToken('mallory-bot');
    other = await stack.agentToken('other-bot');
    alice = await stack.token('alice@example.com', ['approvers']);
    auditor = await stack.token('audrey@example.com', ['auditors']);
    // Test setup (not the attack): an all-powerful role in the local AWS to create the bucket and
    // objects, and DynamoDB Local itself for the tables (also "someone with write access").
    const admin = `arn:aws:iam::${stack.stack.account}:role/attacker-pass-setup`;
    stack.stack.aws.createRole(admin, {
      inline: {
        all: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
      },
    });
    const { accessKeyId, secretAccessKey, sessionToken } = stack.stack.aws.issueRoleSession(admin, 'setup');
    const setup = {
      region: stack.stack.region,
      endpoint: stack.stack.endpoints.aws,
      credentials: { accessKeyId, secretAccessKey, sessionToken },
    };
    ddb = new DynamoDBClient({
      region: stack.stack.region,
      endpoint: stack.stack.endpoints.dynamodb,
      credentials: { accessKeyId: 'LOCALTESTSETUP000001', secretAccessKey: 'local-test-setup' },
    });
    s3 = new S3Client({ ...setup, forcePathStyle: true });
    await ddb.send(
      new CreateTableCommand({
        TableName: USERS,
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    await ddb.send(
      new PutItemCommand({
        TableName: USERS,
        Item: {
          id: { S: 'u-1' },
          password: { S: 'hunter2-correct-horse' },
          plan: { S: 'gold' },
          // A secret in a key rather than a value.
          'carol.customer@example.com': { S: 'contact' },
        },
      }),
    );
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'public/readme.txt', Body: 'hello' }));
    // Keys full of e-mail addresses: a listing far over the stored output limit.
    for (let i = 0; i < 160; i += 20) {
      await Promise.all(
        Array.from({ length: 20 }, (_, j) =>
          s3.send(
            new PutObjectCommand({
              Bucket: BUCKET,
              Key: `mail/person${i + j}.${'x'.repeat(150)}@example.com`,
              Body: '.',
            }),
          ),
        ),
      );
    }
    await s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'secret/x.txt', Body: 'TOP-SECRET-PAYROLL-0042' }),
    );
    await s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: 'keys/deploy.txt',
        Body: `deploy key:\n${PEM}aws: ${SECRET_KEY}\nowner: ops@example.com\n`,
        ContentType: 'text/plain',
      }),
    );
  }, 180_000);
  afterAll(async () => {
    ddb?.destroy();
    s3?.destroy();
    await stack?.stop();
  });

  const execute = (id: string, token = agent) =>
    stack.call<{ execution: Execution } & ErrorBody>('POST', `/v1/requests/${id}/execute`, { token });
  const ask = (resource: string, action: string, input: Record<string, unknown>, extra = {}) =>
    stack.request(agent, { resource, actions: [action], call: { input, ...extra } });
  const S3OBJ = (key: string) => `arn:aws:s3:::${BUCKET}/${key}`;

  describe('input smuggling is refused before anyone approves it (400, details.field call)', () => {
    it.each<[string, string, string, Record<string, unknown>, string?]>([
      [
        'TransactItems reaching another table from a PutItem',
        TABLE(USERS),
        'dynamodb:PutItem',
        {
          TableName: USERS,
          Item: { id: { S: 'x' } },
          TransactItems: [{ Delete: { TableName: 'payments', Key: { id: { S: '1' } } } }],
        },
        'TransactItems',
      ],
      [
        'RequestItems on a GetItem',
        TABLE(USERS),
        'dynamodb:GetItem',
        { TableName: USERS, Key: { id: { S: 'u-1' } }, RequestItems: { payments: { Keys: [] } } },
        'RequestItems',
      ],
      [
        'the same table name in another account',
        TABLE(USERS),
        'dynamodb:GetItem',
        { TableName: `arn:aws:dynamodb:us-east-1:999988887777:table/${USERS}`, Key: { id: { S: 'u-1' } } },
        'TableName',
      ],
      [
        'a Cyrillic look-alike of the table name',
        TABLE(USERS),
        'dynamodb:GetItem',
        { TableName: 'аtk-users', Key: { id: { S: 'u-1' } } },
        'TableName',
      ],
      [
        'the table name in another case, or with a trailing space',
        TABLE(USERS),
        'dynamodb:GetItem',
        { TableName: `${USERS} `, Key: { id: { S: 'u-1' } } },
        'TableName',
      ],
      [
        'an index the grant does not name',
        TABLE(USERS),
        'dynamodb:Query',
        { TableName: USERS, IndexName: 'by-email', KeyConditionExpression: 'id = :i' },
        'IndexName',
      ],
      [
        'S3 CopySource reading another object into the approved key',
        S3OBJ('public/copy.txt'),
        's3:PutObject',
        { Bucket: BUCKET, Key: 'public/copy.txt', CopySource: `${BUCKET}/secret/x.txt` },
        'CopySource',
      ],
      [
        'S3 VersionId (another action: s3:GetObjectVersion)',
        S3OBJ('public/readme.txt'),
        's3:GetObject',
        { Bucket: BUCKET, Key: 'public/readme.txt', VersionId: 'v1' },
        'VersionId',
      ],
      [
        'SNS TargetArn (an endpoint, not the topic)',
        'arn:aws:sns:us-east-1:111122223333:alerts',
        'sns:Publish',
        {
          TopicArn: 'arn:aws:sns:us-east-1:111122223333:alerts',
          TargetArn: 'arn:aws:sns:us-east-1:111122223333:endpoint/APNS/app/1',
          Message: 'x',
        },
        'TargetArn',
      ],
      [
        'a queue URL in another account',
        'arn:aws:sqs:us-east-1:111122223333:callonly-refunds',
        'sqs:SendMessage',
        { QueueUrl: 'https://sqs.us-east-1.amazonaws.com/999988887777/callonly-refunds', MessageBody: 'x' },
        'QueueUrl',
      ],
      [
        'a secret by name rather than by its full ARN',
        'arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/db-AbCdEf',
        'secretsmanager:GetSecretValue',
        { SecretId: 'prod/db' },
        'SecretId',
      ],
      [
        'a parameter version selector',
        'arn:aws:ssm:us-east-1:111122223333:parameter/app/url',
        'ssm:GetParameter',
        { Name: '/app/url:1' },
        'Name',
      ],
      [
        'a key named __proto__',
        TABLE(USERS),
        'dynamodb:PutItem',
        JSON.parse('{"TableName":"atk-users","Item":{"id":{"S":"p"},"__proto__":{"S":"x"}}}'),
      ],
    ])('%s', async (_label, resource, action, input, inputField) => {
      const answer = await ask(resource, action, input);
      expect(answer.status).toBe(400);
      expect((answer.body as ErrorBody).error).toMatchObject({
        code: 'ValidationError',
        details: { field: 'call', ...(inputField ? { inputField } : {}) },
      });
    });

    it('duplicate keys inside call.input (also spelled with escapes) are refused, not last-one-wins', async () => {
      for (const dup of ['"TableName":"payments"', '"\\u0054ableName":"payments"']) {
        const raw = `{"resource":"${TABLE(USERS)}","actions":["dynamodb:GetItem"],"reason":"Attacker pass duplicate keys","call":{"input":{"TableName":"${USERS}",${dup},"Key":{"id":{"S":"u-1"}}}}}`;
        const answer = await stack.call<ErrorBody>('POST', '/v1/requests', {
          token: agent,
          rawBody: raw,
          headers: { 'content-type': 'application/json' },
        });
        expect(answer.status).toBe(400);
        expect(answer.body.error?.code).toBe('ValidationError');
      }
    });

    it('an S3 access point ARN cannot be the resource of an exact call', async () => {
      const ap = 'arn:aws:s3:us-east-1:111122223333:accesspoint/payroll-ap/object/salaries.csv';
      const answer = await ask(ap, 's3:GetObject', { Bucket: ap, Key: 'salaries.csv' });
      // Refused either as an invalid call input or denied as a resource alias; never approved.
      if (answer.status === 201) {
        expect(answer.body.status).toBe('DENIED');
      } else {
        expect(answer.status).toBe(400);
      }
    });

    it('Countersign’s own table is never grantable as an exact call either', async () => {
      const own = stack.stack.tableName;
      const answer = await ask(TABLE(own), 'dynamodb:GetItem', {
        TableName: own,
        Key: { pk: { S: 'x' }, sk: { S: 'y' } },
      });
      expect(answer.status).toBe(201);
      expect(answer.body).toMatchObject({ status: 'DENIED', policy: { rule: 'never-grantable' } });
    });
  });

  describe('S3 keys that do not name the object they spell', () => {
    it('a key with ../ segments is refused: the URL would be normalized to another object', async () => {
      const key = 'public/../secret/x.txt';
      const answer = await ask(S3OBJ(key), 's3:GetObject', { Bucket: BUCKET, Key: key });
      if (answer.status === 201 && answer.body.status === 'APPROVED') {
        // Whatever happens, the other object's bytes never come back.
        const run = await execute(String(answer.body.id));
        expect(JSON.stringify(run.body)).not.toContain('TOP-SECRET-PAYROLL');
      }
      expect(answer.status).toBe(400);
      expect((answer.body as ErrorBody).error).toMatchObject({
        code: 'ValidationError',
        details: { field: 'call', inputField: 'Key' },
      });
    });
  });

  describe('masking evasion', () => {
    it('a secret in a key, a PEM, an AWS secret key and an e-mail in an S3 text body are masked', async () => {
      const got = await ask(TABLE(USERS), 'dynamodb:GetItem', {
        TableName: USERS,
        Key: { id: { S: 'u-1' } },
      });
      expect(got.body.status).toBe('APPROVED');
      const item = await execute(String(got.body.id));
      expect(item.status).toBe(200);
      const itemText = JSON.stringify(item.body);
      expect(itemText).not.toContain('hunter2');
      expect(itemText.toLowerCase()).not.toContain('carol.customer@example.com');

      const body = await ask(S3OBJ('keys/deploy.txt'), 's3:GetObject', {
        Bucket: BUCKET,
        Key: 'keys/deploy.txt',
      });
      expect(body.body.status).toBe('APPROVED');
      const object = await execute(String(body.body.id));
      expect(object.status).toBe(200);
      expect(object.body.execution.status).toBe('succeeded');
      const text = JSON.stringify(object.body);
      expect(text).toContain('deploy key');
      expect(text).not.toContain('MIIEvQIBADAN');
      expect(text).not.toContain(SECRET_KEY);
      expect(text).not.toContain('ops@example.com');
    });

    it('a projection through an ExpressionAttributeNames alias still masks the attribute', async () => {
      const got = await ask(TABLE(USERS), 'dynamodb:GetItem', {
        TableName: USERS,
        Key: { id: { S: 'u-1' } },
        ProjectionExpression: '#a',
        ExpressionAttributeNames: { '#a': 'password' },
      });
      expect(got.body.status).toBe('APPROVED');
      const run = await execute(String(got.body.id));
      expect(run.status).toBe(200);
      expect(JSON.stringify(run.body)).not.toContain('hunter2');
    });

    it('a Range read that cuts the BEGIN line off a PEM key is refused (the detector would not see it)', async () => {
      // On AWS `Range: bytes=28-` returns the key's base64 body without its BEGIN line, which no
      // detector recognizes; partial reads also split 40-character secret keys. Refused up front.
      const answer = await ask(S3OBJ('keys/deploy.txt'), 's3:GetObject', {
        Bucket: BUCKET,
        Key: 'keys/deploy.txt',
        Range: 'bytes=40-',
      });
      expect(answer.status).toBe(400);
      expect((answer.body as ErrorBody).error).toMatchObject({
        code: 'ValidationError',
        details: { field: 'call', inputField: 'Range' },
      });
    });

    it('a FilterExpression on a masked attribute cannot be used as an oracle for its value', async () => {
      // Count 1 or 0 for `begins_with(password, :guess)` reveals the masked value prefix by prefix.
      const probe = (guess: string) =>
        ask(TABLE(USERS), 'dynamodb:Query', {
          TableName: USERS,
          KeyConditionExpression: 'id = :id',
          FilterExpression: 'begins_with(#p, :g)',
          ExpressionAttributeNames: { '#p': 'password' },
          ExpressionAttributeValues: { ':id': { S: 'u-1' }, ':g': { S: guess } },
        });
      const answer = await probe('hunter');
      if (answer.status === 201 && answer.body.status === 'APPROVED') {
        const hit = await execute(String(answer.body.id));
        const miss = await execute(String((await probe('zzz')).body.id));
        // The oracle answered if the two differ in what they reveal.
        const count = (r: typeof hit) => (r.body.execution?.output as { Count?: number })?.Count;
        expect({ hit: count(hit), miss: count(miss) }).toEqual({ hit: count(miss), miss: count(miss) });
      }
      expect(answer.status).toBe(400);
    });

    it('an oversized output is cut after masking: no address survives in the stored text', async () => {
      const answer = await ask(`arn:aws:s3:::${BUCKET}`, 's3:ListBucket', {
        Bucket: BUCKET,
        Prefix: 'mail/',
      });
      expect(answer.body.status).toBe('APPROVED');
      const run = await execute(String(answer.body.id));
      expect(run.status).toBe(200);
      expect(run.body.execution.status).toBe('succeeded');
      const text = JSON.stringify(run.body);
      expect(text.length).toBeLessThan(40 * 1024);
      expect(run.body.execution.outputTruncated).toBe(true);
      expect(text).toContain('MASKED:email');
      expect(text).not.toMatch(/person\d+\.x+@/);
      expect(text).not.toContain('@example.com');
      // Stored as returned.
      const stored = await stack.call('GET', `/v1/requests/${String(answer.body.id)}`, { token: auditor });
      expect(JSON.stringify(stored.body)).not.toContain('@example.com');
    });
  });

  describe('replaying and stealing execute', () => {
    it('eight concurrent executes of one approval: one call, seven 409 AlreadyExecuted', async () => {
      const created = await ask(TABLE(USERS), 'dynamodb:GetItem', {
        TableName: USERS,
        Key: { id: { S: 'u-1' } },
      });
      const id = String(created.body.id);
      const answers = await Promise.all(Array.from({ length: 8 }, () => execute(id)));
      expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
      expect(
        answers.filter((a) => a.status === 409 && a.body.error?.code === 'AlreadyExecuted'),
      ).toHaveLength(7);
    });

    it('another agent, the approver and an auditor cannot execute the request (404), nor spend it', async () => {
      const id = await stack.pendingRequest(agent, 'orders', {
        call: { input: { TableName: 'orders', Item: { id: { S: 'atk-steal' } } } },
      });
      expect((await stack.click({ requestId: id, userId: 'U0ALICE' })).body.ok).toBe(true);
      for (const thief of [other, alice, auditor]) {
        const answer = await execute(id, thief);
        expect(answer.status).toBe(404);
      }
      // Still there for its requester: the thieves spent nothing.
      const own = await execute(id);
      expect(own.status).toBe(200);
      expect(own.body.execution.status).toBe('succeeded');
    });

    it('an approved call revoked before execute is never made', async () => {
      const id = await stack.pendingRequest(agent, 'orders', {
        call: { input: { TableName: 'orders', Item: { id: { S: 'atk-revoked' } } } },
      });
      expect((await stack.click({ requestId: id, userId: 'U0ALICE' })).body.ok).toBe(true);
      const revoked = await stack.call('POST', `/v1/requests/${id}/revoke`, {
        token: auditor,
        body: { reason: 'Attacker pass: revoked before execute' },
      });
      expect(revoked.status).toBe(200);
      const answer = await execute(id);
      expect(answer.status).toBe(409);
      const stored = await ddb.send(
        new GetItemCommand({ TableName: 'orders', Key: { id: { S: 'atk-revoked' } } }),
      );
      expect(stored.Item).toBeUndefined();
    });

    /** The table writer edits the stored input, its plain SHA-256 and, optionally, the unkeyed chain. */
    async function swapApprovedInput(itemId: string, recomputeChain: boolean) {
      const approved = { TableName: 'orders', Item: { id: { S: itemId }, amount: { N: '10' } } };
      const id = await stack.pendingRequest(agent, 'orders', { call: { input: approved } });
      expect((await stack.click({ requestId: id, userId: 'U0ALICE' })).body.ok).toBe(true);
      const table = stack.stack.tableName;
      const key = { PK: { S: `REQ#${id}` }, SK: { S: 'REQUEST' } };
      const found = await ddb.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }));
      expect(found.Item?.call).toBeDefined();
      const request = unmarshall(found.Item!) as Record<string, unknown> & {
        call: Record<string, unknown>;
        history?: Array<Record<string, unknown>>;
      };
      const swapped = { TableName: 'orders', Item: { id: { S: itemId }, amount: { N: '999999' } } };
      request.call = { ...request.call, input: swapped, inputSha256: inputSha256(swapped) };
      const names: Record<string, string> = { '#c': 'call' };
      const values: Record<string, unknown> = {
        ':c': { M: marshall(request.call, { removeUndefinedValues: true }) },
      };
      let update = 'SET #c = :c';
      if (recomputeChain && request.history?.length) {
        // Recompute the last link of the unkeyed chain over the edited request.
        const history = request.history;
        const last = { ...history.at(-1)! };
        const previous = history.length > 1 ? String(history.at(-2)!.hash) : GENESIS_HASH;
        last.state = snapshotOf(request as never);
        last.hash = createHash('sha256')
          .update(`${previous}|${last.seq}|${last.at}|${last.event}|${last.state}`, 'utf8')
          .digest('hex');
        history[history.length - 1] = last;
        names['#h'] = 'history';
        values[':h'] = { L: history.map((h) => ({ M: marshall(h, { removeUndefinedValues: true }) })) };
        update += ', #h = :h';
      }
      await ddb.send(
        new UpdateItemCommand({
          TableName: table,
          Key: key,
          UpdateExpression: update,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values as never,
        }),
      );
      const run = await execute(id);
      const stored = await ddb.send(
        new GetItemCommand({ TableName: 'orders', Key: { id: { S: itemId } }, ConsistentRead: true }),
      );
      return { id, run, written: stored.Item?.amount?.N };
    }

    it('someone with write access to the table cannot swap the approved input (and its hash) before execute', async () => {
      const { run, written } = await swapApprovedInput('atk-swap', false);
      // Safe: the swapped input is never run (refused, or failed without making the call).
      expect(written).not.toBe('999999');
      expect(run.body.execution?.status).not.toBe('succeeded');
    });

    it('…nor by also recomputing the unkeyed hash chain: the history is keyed', async () => {
      const { id, run, written } = await swapApprovedInput('atk-swap-chain', true);
      expect(written).not.toBe('999999');
      expect(run.body.execution?.status).not.toBe('succeeded');
      // And the evidence says the history is keyed and does not verify.
      const evidence = await stack.call<{ integrity: { valid: boolean; keyed?: boolean } }>(
        'GET',
        `/v1/reports/requests/${id}`,
        { token: auditor },
      );
      expect(evidence.body.integrity).toMatchObject({ valid: false, keyed: true });
    });

    /** The table writer rewrites a stored request and relinks the last entry of the unkeyed chain. */
    async function rewriteRequest(id: string, mutate: (request: Record<string, unknown>) => void) {
      const table = stack.stack.tableName;
      const key = { PK: { S: `REQ#${id}` }, SK: { S: 'REQUEST' } };
      const found = await ddb.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }));
      const request = unmarshall(found.Item!) as Record<string, unknown> & {
        history: Array<Record<string, unknown>>;
      };
      mutate(request);
      const history = request.history;
      const last = { ...history.at(-1)! };
      const previous = history.length > 1 ? String(history.at(-2)!.hash) : GENESIS_HASH;
      last.state = snapshotOf(request as never);
      last.hash = createHash('sha256')
        .update(`${previous}|${last.seq}|${last.at}|${last.event}|${last.state}`, 'utf8')
        .digest('hex');
      history[history.length - 1] = last;
      await ddb.send(
        new PutItemCommand({ TableName: table, Item: marshall(request, { removeUndefinedValues: true }) }),
      );
    }

    it('a table writer cannot widen an approved session to another table, even with a consistent grant', async () => {
      const id = await stack.approvedRequest(agent, 'orders');
      const other = TABLE('payments');
      await rewriteRequest(id, (request) => {
        const grant = request.grant as Record<string, unknown>;
        request.resource = other;
        grant.resource = other;
        grant.sessionPolicy = buildSessionPolicy({
          actions: grant.actions as string[],
          resource: other,
          notAfter: String(grant.notAfter),
        }).document;
      });
      const claim = await stack.call('POST', `/v1/requests/${id}/credentials`, { token: agent });
      expect(claim.status).not.toBe(200);
      expect(JSON.stringify(claim.body)).not.toContain('SecretAccessKey');
    });

    it('a table writer cannot turn a call-only request into credentials by dropping its call', async () => {
      const id = await stack.approvedRequest(agent, 'orders', {
        call: { input: { TableName: 'orders', Item: { id: { S: 'atk-drop-call' } } } },
      });
      await rewriteRequest(id, (request) => {
        delete request.call;
      });
      const claim = await stack.call('POST', `/v1/requests/${id}/credentials`, { token: agent });
      expect(claim.status).not.toBe(200);
      expect(JSON.stringify(claim.body)).not.toContain('SecretAccessKey');
    });

    it('the input approvers saw is the input run: a hostile value cannot close the Slack code block', async () => {
      const hostile = '```\n<!channel> *APPROVE ME* <https://evil.example|click>\n```';
      const id = await stack.pendingRequest(agent, 'orders', {
        call: { input: { TableName: 'orders', Item: { id: { S: 'atk-slack' }, note: { S: hostile } } } },
      });
      const message = stack.slackMessages().find((m) => JSON.stringify(m).includes(id));
      const text = JSON.stringify(message);
      expect(text).not.toContain('<!channel>');
      expect(text).not.toContain('<https://evil.example');
      expect(text).not.toMatch(/```\\n<!channel>/);
    });
  });
});
