import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';

/**
 * One AWS request signed with SigV4 and sent with `fetch`, for the calls Countersign makes without
 * an SDK client: the exact calls (call-executor.ts) and KMS's GenerateMac/VerifyMac (kms-client.ts).
 * Each SDK client adds its command schemas and protocol serde to the one-file Lambda bundle; these
 * requests are a few fixed fields. The signer is the SDK's own (@smithy/signature-v4).
 */

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** One HTTP request to make, before signing. */
export interface SignedRequest {
  /** The SigV4 signing name (`dynamodb`, `kms`, `s3`…). */
  service: string;
  region: string;
  credentials: AwsCredentials;
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';
  url: URL;
  headers: Record<string, string>;
  body?: string;
  /** S3 signs the path as is and wants the payload hash header. */
  s3?: boolean;
  /** The request is aborted (a `TimeoutError`) after this long. */
  timeoutMs: number;
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

/** Signs `out` (SigV4) and sends it once, with a timeout; redirects are not followed. */
export async function signedFetch(out: SignedRequest): Promise<Response> {
  const signer = new SignatureV4({
    service: out.service,
    region: out.region,
    sha256: NodeSha256,
    // S3 signs the path as sent (no double encoding); every other service escapes it again.
    uriEscapePath: !out.s3,
    applyChecksum: Boolean(out.s3),
    credentials: out.credentials,
  });
  const query: Record<string, string> = {};
  out.url.searchParams.forEach((value, name) => {
    query[name] = value;
  });
  const signed = await signer.sign({
    method: out.method,
    protocol: out.url.protocol,
    hostname: out.url.hostname,
    ...(out.url.port ? { port: Number(out.url.port) } : {}),
    path: out.url.pathname || '/',
    query,
    headers: { host: out.url.host, ...out.headers },
    ...(out.body !== undefined ? { body: out.body } : {}),
  });
  return fetch(out.url, {
    method: out.method,
    headers: signed.headers,
    ...(out.body !== undefined ? { body: out.body } : {}),
    redirect: 'manual',
    signal: AbortSignal.timeout(out.timeoutMs),
  });
}

/**
 * The endpoint configured in the environment as the SDKs read it: `AWS_ENDPOINT_URL_<SERVICE>`,
 * then `AWS_ENDPOINT_URL` (the local assembly sets the latter), neither when
 * `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is true. `envName` is the service's id in upper case (`KMS`).
 */
export function configuredEndpoint(
  env: Record<string, string | undefined>,
  envName: string,
): string | undefined {
  if (env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS?.toLowerCase() === 'true') return undefined;
  return env[`AWS_ENDPOINT_URL_${envName}`] || env.AWS_ENDPOINT_URL || undefined;
}

/** `https://<host>.<region>.amazonaws.com/` (`.com.cn` in the China regions). */
export const regionalEndpoint = (host: string, region: string) =>
  `https://${host}.${region}.${dnsSuffix(region)}/`;

export const dnsSuffix = (region: string) =>
  region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
