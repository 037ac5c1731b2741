import { randomUUID } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KmsClient, type KmsClientOptions } from '../../lambdas/adapters/kms-client.js';
import { KmsMac } from '../../lambdas/adapters/kms-mac.js';
import { configuredEndpoint, regionalEndpoint } from '../../lambdas/adapters/signed-fetch.js';
import { DependencyError } from '../../lambdas/core/errors.js';
import { createLocalAws, type LocalAws } from '../../lib/local/aws/index.js';

/**
 * The KMS client the functions use for the history key (signed fetch, no SDK client), against the
 * local AWS endpoint, which verifies SigV4 and evaluates the caller's IAM policy as AWS does. A
 * proxy in front of it answers chosen attempts itself (throttling, KMS's 500, silence), to show
 * the SDK-style retries; every attempt that gets through is served by the local KMS.
 */

const ACCOUNT = '111122223333';
const REGION = 'eu-west-1';
const KEY_ID = randomUUID();
const KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/${KEY_ID}`;
const role = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;

let aws: LocalAws;
let proxy: Server;
let proxyUrl: string;
/** What the proxy does with the next attempts, in order; forwarded once the list is empty. */
let script: Array<'throttle' | 'internal' | 'silent'> = [];
let attempts = 0;

type Session = { accessKeyId: string; secretAccessKey: string; sessionToken: string };
let user: Session;
let stranger: Session;

const client = (options: Partial<KmsClientOptions> = {}) =>
  new KmsClient({ region: REGION, endpoint: proxyUrl, credentials: user, env: {}, ...options });

beforeAll(async () => {
  aws = createLocalAws({
    account: ACCOUNT,
    region: REGION,
    // No DynamoDB call is made here.
    dynamodbEndpoint: 'http://127.0.0.1:1',
    log: () => undefined,
  });
  await aws.start();
  aws.ensureKey(KEY_ID, 'history key');
  aws.createRole(role('history-user'), {
    inline: {
      mac: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: ['kms:GenerateMac', 'kms:VerifyMac'], Resource: KEY_ARN }],
      },
    },
  });
  aws.createRole(role('stranger'), {
    inline: {
      read: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: '*' }],
      },
    },
  });
  user = aws.issueRoleSession(role('history-user'), 'kms-test');
  stranger = aws.issueRoleSession(role('stranger'), 'kms-test');

  const target = new URL(aws.url);
  proxy = createServer((req, res) => {
    attempts++;
    const next = script.shift();
    if (next === 'silent') return; // never answers: the client's timeout ends the attempt
    if (next) {
      const [status, type] =
        next === 'throttle' ? [400, 'ThrottlingException'] : [500, 'KMSInternalException'];
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify({ __type: type, message: 'from the proxy' }));
      return;
    }
    // Forwarded as received, Host header included: the signature the local AWS checks is the client's.
    const upstream = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
}, 60_000);

afterAll(async () => {
  proxy?.closeAllConnections();
  await new Promise((resolve) => proxy?.close(resolve));
  await aws?.stop();
});

beforeEach(() => {
  script = [];
  attempts = 0;
});

describe('KmsMac on the signed-fetch KMS client', () => {
  it('signs and verifies with the key, in one attempt each', async () => {
    const mac = new KmsMac(client(), KEY_ID);
    const sealed = await mac.sign('history entry 1');
    expect(Buffer.from(sealed, 'base64')).toHaveLength(32);
    expect(await mac.verify('history entry 1', sealed)).toBe(true);
    expect(attempts).toBe(2);
    // The same key by ARN answers the same MAC.
    expect(await new KmsMac(client(), KEY_ARN).sign('history entry 1')).toBe(sealed);
  });

  it('answers false for a wrong MAC (KMSInvalidMacException), without retrying it', async () => {
    const mac = new KmsMac(client(), KEY_ID);
    const sealed = await mac.sign('history entry 1');
    attempts = 0;
    expect(await mac.verify('history entry 2', sealed)).toBe(false);
    const flipped = Buffer.from(sealed, 'base64');
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    expect(await mac.verify('history entry 1', flipped.toString('base64'))).toBe(false);
    expect(attempts).toBe(2);
  });

  it('answers false, not an outage, for a stored MAC of the wrong length (a table writer cannot turn a check into a 503)', async () => {
    const mac = new KmsMac(client(), KEY_ID);
    attempts = 0;
    expect(await mac.verify('x', Buffer.alloc(8192, 1).toString('base64'))).toBe(false);
    expect(await mac.verify('x', Buffer.alloc(31, 1).toString('base64'))).toBe(false);
    expect(attempts).toBe(0);
  });

  it('fails closed with a DependencyError for a key that does not exist, and for a caller KMS refuses', async () => {
    const missing = new KmsMac(client(), randomUUID());
    await expect(missing.sign('x')).rejects.toBeInstanceOf(DependencyError);
    await expect(missing.verify('x', Buffer.alloc(32).toString('base64'))).rejects.toBeInstanceOf(
      DependencyError,
    );
    const refused = new KmsMac(client({ credentials: stranger }), KEY_ID);
    const error = await refused.sign('x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyError);
    expect(String((error as Error).cause)).toMatch(/AccessDenied/);
    // Neither NotFound nor AccessDenied is retried.
    expect(attempts).toBe(3);
  });

  it('retries throttling as the SDK does and succeeds on the third attempt', async () => {
    script = ['throttle', 'throttle'];
    const sealed = await new KmsMac(client(), KEY_ID).sign('history entry 1');
    expect(attempts).toBe(3);
    expect(await new KmsMac(client(), KEY_ID).verify('history entry 1', sealed)).toBe(true);
  });

  it('gives up after three attempts and answers a DependencyError', async () => {
    script = ['throttle', 'internal', 'throttle', 'throttle'];
    await expect(new KmsMac(client(), KEY_ID).sign('x')).rejects.toBeInstanceOf(DependencyError);
    expect(attempts).toBe(3);
    script = ['internal'];
    attempts = 0;
    await expect(new KmsMac(client({ maxAttempts: 1 }), KEY_ID).sign('x')).rejects.toBeInstanceOf(
      DependencyError,
    );
    expect(attempts).toBe(1);
  });

  it('retries KMS’s 500 and an attempt that times out', async () => {
    script = ['internal', 'silent'];
    const started = Date.now();
    const sealed = await new KmsMac(client({ timeoutMs: 300 }), KEY_ID).sign('history entry 1');
    expect(attempts).toBe(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(sealed).toBe(await new KmsMac(client(), KEY_ID).sign('history entry 1'));
  });
});

describe('the KMS client’s endpoint and credentials, as the SDK resolves them', () => {
  const lambdaEnv = (extra: Record<string, string>) => ({
    AWS_ACCESS_KEY_ID: user.accessKeyId,
    AWS_SECRET_ACCESS_KEY: user.secretAccessKey,
    AWS_SESSION_TOKEN: user.sessionToken,
    ...extra,
  });

  it('uses the function’s own session from the environment and AWS_ENDPOINT_URL_KMS before AWS_ENDPOINT_URL', async () => {
    const env = lambdaEnv({ AWS_ENDPOINT_URL_KMS: proxyUrl, AWS_ENDPOINT_URL: 'http://127.0.0.1:1' });
    const mac = new KmsMac(new KmsClient({ region: REGION, env }), KEY_ID);
    expect(await mac.verify('e', await mac.sign('e'))).toBe(true);
    expect(attempts).toBe(2);
    const generic = new KmsMac(
      new KmsClient({ region: REGION, env: lambdaEnv({ AWS_ENDPOINT_URL: aws.url }) }),
      KEY_ID,
    );
    expect(await generic.sign('e')).toBe(await mac.sign('e'));
  });

  it('sends the session token: without it the local AWS refuses the role session', async () => {
    const { AWS_SESSION_TOKEN: _, ...withoutToken } = lambdaEnv({ AWS_ENDPOINT_URL: aws.url });
    const mac = new KmsMac(new KmsClient({ region: REGION, env: withoutToken }), KEY_ID);
    await expect(mac.sign('e')).rejects.toBeInstanceOf(DependencyError);
  });

  it('refuses without credentials in the environment, before any request', async () => {
    const mac = new KmsMac(new KmsClient({ region: REGION, env: { AWS_ENDPOINT_URL: proxyUrl } }), KEY_ID);
    const error = await mac.sign('e').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyError);
    expect(String((error as Error).cause)).toMatch(/AWS_ACCESS_KEY_ID/);
    expect(attempts).toBe(0);
  });

  it('falls back to the regional endpoint, and ignores configured ones when told to', () => {
    expect(configuredEndpoint({}, 'KMS')).toBeUndefined();
    expect(configuredEndpoint({ AWS_ENDPOINT_URL: 'http://a', AWS_ENDPOINT_URL_KMS: '' }, 'KMS')).toBe(
      'http://a',
    );
    expect(
      configuredEndpoint(
        { AWS_ENDPOINT_URL: 'http://a', AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' },
        'KMS',
      ),
    ).toBeUndefined();
    expect(regionalEndpoint('kms', 'eu-west-1')).toBe('https://kms.eu-west-1.amazonaws.com/');
    expect(regionalEndpoint('kms', 'cn-north-1')).toBe('https://kms.cn-north-1.amazonaws.com.cn/');
  });
});
