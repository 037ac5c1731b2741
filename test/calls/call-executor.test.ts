import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES, SigV4CallExecutor } from '../../lambdas/adapters/call-executor.js';
import { fakeAccessKeyId } from '../support/fake-keys.js';

/**
 * The executor's wire formats, against a recording HTTP server standing in for each service: what
 * it sends for S3, Lambda and SNS (DynamoDB runs against DynamoDB Local in the e2e tests), signed
 * with the call's session, and how it reads answers and errors.
 */

type Seen = { method: string; url: string; headers: IncomingMessage['headers']; body: string };
let server: Server;
let endpoint: string;
const seen: Seen[] = [];
let answer: { status: number; headers?: Record<string, string>; body: string } = { status: 200, body: '' };

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res.writeHead(answer.status, answer.headers ?? {});
      res.end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const credentials = {
  Version: 1 as const,
  AccessKeyId: fakeAccessKeyId('TESTSESSION00002'),
  SecretAccessKey: 'not-a-secret',
  SessionToken: 'session-token',
  Expiration: '2030-01-01T00:00:00Z',
};
const executor = () =>
  new SigV4CallExecutor({ defaultRegion: 'eu-west-1', env: { AWS_ENDPOINT_URL: endpoint } });
const last = () => seen.at(-1)!;

describe('the exact-call executor', () => {
  it('puts an S3 object: path-style, headers from the allow-listed fields, signed for s3 with the session', async () => {
    answer = { status: 200, headers: { etag: '"abc"' }, body: '' };
    const outcome = await executor().execute({
      operation: 's3:PutObject',
      input: {
        Bucket: 'acme-prod-data',
        Key: "reports/2025 (final)'s.csv",
        Body: 'a,b\n1,2\n',
        ContentType: 'text/csv',
        Metadata: { Owner: 'ops' },
      },
      credentials,
    });
    expect(outcome).toEqual({ ok: true, output: { ETag: '"abc"' } });
    const req = last();
    expect(req.method).toBe('PUT');
    expect(req.url).toBe('/acme-prod-data/reports/2025%20%28final%29%27s.csv');
    expect(req.body).toBe('a,b\n1,2\n');
    expect(req.headers['content-type']).toBe('text/csv');
    expect(req.headers['x-amz-meta-owner']).toBe('ops');
    expect(req.headers['x-amz-security-token']).toBe('session-token');
    expect(req.headers['x-amz-content-sha256']).toMatch(/^[0-9a-f]{64}$/);
    expect(String(req.headers.authorization)).toContain(`Credential=${fakeAccessKeyId('TESTSESSION00002')}/`);
    expect(String(req.headers.authorization)).toContain('/eu-west-1/s3/aws4_request');
  });

  it('gets an S3 object as text, cut at the documented size, and reads S3 errors', async () => {
    answer = {
      status: 200,
      headers: { 'content-type': 'text/plain' },
      body: 'x'.repeat(MAX_BODY_BYTES + 10),
    };
    const got = await executor().execute({
      operation: 's3:GetObject',
      input: { Bucket: 'b', Key: 'k', Range: 'bytes=0-' },
      credentials,
    });
    expect(got.ok && (got.output as { Body: string }).Body.length).toBe(MAX_BODY_BYTES);
    expect(got.ok && (got.output as { BodyTruncated: boolean }).BodyTruncated).toBe(true);
    expect(last().headers.range).toBe('bytes=0-');

    answer = {
      status: 403,
      body: '<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>',
    };
    const denied = await executor().execute({
      operation: 's3:GetObject',
      input: { Bucket: 'b', Key: 'k' },
      credentials,
    });
    expect(denied).toEqual({ ok: false, awsError: { code: 'AccessDenied', message: 'Access Denied' } });
  });

  it('invokes a function with the payload as body and returns its parsed answer', async () => {
    answer = { status: 200, headers: { 'x-amz-executed-version': '$LATEST' }, body: '{"ok":true}' };
    const outcome = await executor().execute({
      operation: 'lambda:Invoke',
      input: { FunctionName: 'reindex', Payload: { since: '2025-01-01' }, InvocationType: 'RequestResponse' },
      region: 'us-east-1',
      credentials,
    });
    expect(outcome).toEqual({
      ok: true,
      output: { StatusCode: 200, ExecutedVersion: '$LATEST', Payload: { ok: true } },
    });
    expect(last().url).toBe('/2015-03-31/functions/reindex/invocations');
    expect(last().body).toBe('{"since":"2025-01-01"}');
    expect(last().headers['x-amz-invocation-type']).toBe('RequestResponse');
    expect(String(last().headers.authorization)).toContain('/us-east-1/lambda/aws4_request');
  });

  it('publishes to SNS in the query protocol and reads the message id', async () => {
    answer = {
      status: 200,
      body: '<PublishResponse><PublishResult><MessageId>m-1</MessageId></PublishResult></PublishResponse>',
    };
    const topic = 'arn:aws:sns:us-east-1:111122223333:alerts';
    const outcome = await executor().execute({
      operation: 'sns:Publish',
      input: {
        TopicArn: topic,
        Message: 'hi',
        MessageAttributes: { kind: { DataType: 'String', StringValue: 'x' } },
      },
      region: 'us-east-1',
      credentials,
    });
    expect(outcome).toEqual({ ok: true, output: { MessageId: 'm-1' } });
    const form = new URLSearchParams(last().body);
    expect(form.get('Action')).toBe('Publish');
    expect(form.get('TopicArn')).toBe(topic);
    expect(form.get('MessageAttributes.entry.1.Name')).toBe('kind');
    expect(form.get('MessageAttributes.entry.1.Value.StringValue')).toBe('x');
  });

  it('sends a JSON-protocol input byte for byte and reads awsJson errors', async () => {
    answer = {
      status: 400,
      headers: { 'content-type': 'application/x-amz-json-1.1' },
      body: '{"__type":"com.amazonaws.secretsmanager#ResourceNotFoundException","Message":"no such secret"}',
    };
    const input = { SecretId: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf' };
    const outcome = await executor().execute({
      operation: 'secretsmanager:GetSecretValue',
      input,
      credentials,
    });
    expect(outcome).toEqual({
      ok: false,
      awsError: { code: 'ResourceNotFoundException', message: 'no such secret' },
    });
    expect(last().body).toBe(JSON.stringify(input));
    expect(last().headers['x-amz-target']).toBe('secretsmanager.GetSecretValue');
  });
});
