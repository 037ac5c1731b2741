import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { FailClosedError } from '../core/errors.js';
import type { CallExecutor, CallOutcome, CallToMake } from '../core/exact-call-execution.js';

/**
 * Makes an exact call: one HTTPS request in the service's own JSON protocol, its body the approved
 * input byte for byte (no SDK model re-serializes it), signed with SigV4 by the session minted for
 * that call. The answer is the service's JSON as it came (DynamoDB attribute values, base64 binary),
 * which is what gets masked.
 *
 * Why not the SDK client per service: each client adds its command schemas and serde to the one-file
 * Lambda bundle (DynamoDB's five commands alone were 43 KB, the JSON-protocol clients 350 KB more),
 * and for a call that must be exactly what was approved a generic, schema-free request is both
 * smaller and more faithful. The signer is the SDK's own (@smithy/signature-v4).
 *
 * Endpoints: `endpoints[service]`, else `AWS_ENDPOINT_URL_<SERVICE>` / `AWS_ENDPOINT_URL` as the SDKs
 * read them (the local assembly sets the latter), else the regional endpoint.
 */

/** Services exact calls are made for, by IAM prefix: the JSON protocol's version, target prefix, env name. */
const JSON_SERVICES: Readonly<
  Record<string, { version: '1.0' | '1.1'; target: string; env: string; host: string }>
> = {
  dynamodb: { version: '1.0', target: 'DynamoDB_20120810', env: 'DYNAMODB', host: 'dynamodb' },
  sqs: { version: '1.0', target: 'AmazonSQS', env: 'SQS', host: 'sqs' },
  secretsmanager: {
    version: '1.1',
    target: 'secretsmanager',
    env: 'SECRETS_MANAGER',
    host: 'secretsmanager',
  },
  ssm: { version: '1.1', target: 'AmazonSSM', env: 'SSM', host: 'ssm' },
};

/** Answers larger than this are not read whole: the masked, stored output is far smaller anyway. */
export const MAX_ANSWER_BYTES = 1024 * 1024;
const CALL_TIMEOUT_MS = 10_000;

/** Validation accepts operations this deployment cannot make yet: refused before anything runs. */
export class CallNotSupportedError extends FailClosedError {
  constructor(operation: string) {
    super(`Exact calls of ${operation} are validated but not yet executed by this version of Countersign.`);
    this.name = 'CallNotSupportedError';
  }
}

export interface SigV4CallExecutorOptions {
  /** Region for ARNs that carry none. */
  defaultRegion: string;
  /** Endpoint per IAM service prefix (`dynamodb`…), e.g. the local stack's. */
  endpoints?: Partial<Record<string, string>>;
  /** The environment's AWS_ENDPOINT_URL* variables. */
  env?: Record<string, string | undefined>;
}

/** node:crypto as the signer's checksum (SHA-256, and HMAC-SHA256 when given a key). */
class NodeSha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {}
}

function toBuffer(data: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

export class SigV4CallExecutor implements CallExecutor {
  constructor(private readonly options: SigV4CallExecutorOptions) {}

  supports(operation: string): boolean {
    return JSON_SERVICES[operation.split(':')[0] ?? ''] !== undefined;
  }

  async execute(call: CallToMake): Promise<CallOutcome> {
    const [service, operation] = call.operation.split(':') as [string, string];
    const spec = JSON_SERVICES[service];
    if (!spec) throw new CallNotSupportedError(call.operation);
    const region = call.region ?? this.options.defaultRegion;
    const url = new URL(this.endpoint(service, spec, region));
    const body = JSON.stringify(call.input);
    const signer = new SignatureV4({
      service,
      region,
      sha256: NodeSha256,
      credentials: {
        accessKeyId: call.credentials.AccessKeyId,
        secretAccessKey: call.credentials.SecretAccessKey,
        sessionToken: call.credentials.SessionToken,
      },
    });
    const signed = await signer.sign({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname || '/',
      query: {},
      headers: {
        host: url.host,
        'content-type': `application/x-amz-json-${spec.version}`,
        'x-amz-target': `${spec.target}.${operation}`,
      },
      body,
    });
    const response = await fetch(url, {
      method: 'POST',
      headers: signed.headers,
      body,
      signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
    });
    const text = await readLimited(response);
    let answer: Record<string, unknown> = {};
    try {
      answer = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      if (response.ok) throw new Error('the service answered with something other than JSON');
    }
    if (response.ok) return { ok: true, output: answer };
    // awsJson errors: `__type` is `namespace#Code` (or just `Code`); the message's key varies in case.
    const type = String(
      answer.__type ?? response.headers.get('x-amzn-errortype') ?? `Http${response.status}`,
    );
    const code = type.slice(type.lastIndexOf('#') + 1).split(':')[0] || `Http${response.status}`;
    const message = String(answer.message ?? answer.Message ?? '');
    return { ok: false, awsError: { code, message } };
  }

  private endpoint(service: string, spec: { env: string; host: string }, region: string): string {
    const env = this.options.env ?? {};
    const given =
      this.options.endpoints?.[service] ?? env[`AWS_ENDPOINT_URL_${spec.env}`] ?? env.AWS_ENDPOINT_URL;
    if (given) return given;
    const suffix = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
    return `https://${spec.host}.${region}.${suffix}/`;
  }
}

async function readLimited(response: Response): Promise<string> {
  const length = Number(response.headers.get('content-length') ?? '0');
  if (length > MAX_ANSWER_BYTES) throw new Error('the answer is larger than exact calls read');
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.byteLength > MAX_ANSWER_BYTES) throw new Error('the answer is larger than exact calls read');
  return new TextDecoder('utf-8').decode(bytes);
}
