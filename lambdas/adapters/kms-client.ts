import { type AwsCredentials, configuredEndpoint, regionalEndpoint, signedFetch } from './signed-fetch.js';

/**
 * The KMS calls Countersign makes (GenerateMac, VerifyMac: JSON 1.1, `TrentService.*`), as signed
 * `fetch` requests (signed-fetch.ts) instead of @aws-sdk/client-kms, whose command schemas and
 * protocol serde were 32 KB of every bundle that keeps a history key. It does what the SDK client
 * did for these calls:
 * - credentials: those given, else the function's own from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
 *   and AWS_SESSION_TOKEN (what sdk-lambda-credentials.ts reduces the SDK's chain to);
 * - endpoint: the one given, else AWS_ENDPOINT_URL_KMS, AWS_ENDPOINT_URL (how the local assembly
 *   points the bundles at its local AWS), else https://kms.<region>.amazonaws.com;
 * - retries as the SDK's standard mode: up to `maxAttempts` (3) for throttling, 5xx (KMSInternalException,
 *   DependencyTimeoutException), timeouts and network errors, after a fully jittered exponential backoff
 *   (base 50 ms, 1 s after throttling); every other answer is thrown at once as a KmsError.
 * Each attempt is aborted after `timeoutMs`.
 */

/** The options of the SDK's KMSClient that Countersign passes (settings.ts clientOptions), and a timeout. */
export interface KmsClientOptions {
  region: string;
  endpoint?: string;
  credentials?: AwsCredentials;
  /** @default 3 */
  maxAttempts?: number;
  /** Per attempt. @default 5000 */
  timeoutMs?: number;
  /** Where credentials and endpoint variables are read. @default process.env */
  env?: Record<string, string | undefined>;
}

/** KMS answered with an error: `code` is its `__type` without the namespace. */
export class KmsError extends Error {
  override name = 'KmsError';
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(`${code}: ${message}`);
  }
}

export type KmsOperation = 'GenerateMac' | 'VerifyMac';

const THROTTLING = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'LimitExceededException',
]);
const TRANSIENT = new Set([
  'KMSInternalException',
  'DependencyTimeoutException',
  'RequestTimeout',
  'RequestTimeoutException',
]);
const BASE_DELAY_MS = 50;
const THROTTLING_DELAY_MS = 1_000;
const MAX_DELAY_MS = 20_000;

export class KmsClient {
  private readonly maxAttempts: number;
  private readonly timeoutMs: number;
  private readonly env: Record<string, string | undefined>;

  constructor(private readonly options: KmsClientOptions) {
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 3);
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.env = options.env ?? process.env;
  }

  /** One KMS operation; its JSON answer, or a KmsError (or the last network error) after the retries. */
  async send(operation: KmsOperation, input: Record<string, unknown>): Promise<Record<string, unknown>> {
    const request = {
      service: 'kms',
      region: this.options.region,
      credentials: this.credentials(),
      method: 'POST',
      url: new URL(
        this.options.endpoint ??
          configuredEndpoint(this.env, 'KMS') ??
          regionalEndpoint('kms', this.options.region),
      ),
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': `TrentService.${operation}`,
      },
      body: JSON.stringify(input),
      timeoutMs: this.timeoutMs,
    } as const;
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await signedFetch(request);
        const answer = parse(await response.text());
        if (!response.ok) throw kmsError(answer ?? {}, response);
        if (!answer) throw new KmsError('InvalidResponse', 'the answer is not JSON', response.status);
        return answer;
      } catch (error) {
        const retry = retryKind(error);
        if (retry === undefined || attempt >= this.maxAttempts) throw error;
        const base = retry === 'throttling' ? THROTTLING_DELAY_MS : BASE_DELAY_MS;
        const delay = Math.floor(Math.random() * Math.min(base * 2 ** (attempt - 1), MAX_DELAY_MS));
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  private credentials(): AwsCredentials {
    if (this.options.credentials) return this.options.credentials;
    const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey } = this.env;
    if (!accessKeyId || !secretAccessKey) {
      throw new Error('No AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set');
    }
    const sessionToken = this.env.AWS_SESSION_TOKEN;
    return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
  }
}

/** As the SDK's standard retry classifies: KMS's throttling, 5xx and transient codes, and network errors. */
function retryKind(error: unknown): 'throttling' | 'transient' | undefined {
  if (!(error instanceof KmsError)) return 'transient';
  if (THROTTLING.has(error.code) || error.status === 429) return 'throttling';
  if (TRANSIENT.has(error.code) || error.status >= 500) return 'transient';
  return undefined;
}

function parse(text: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** JSON 1.1 errors: `__type` (or the x-amzn-errortype header) is `[namespace#]Code[:…]`. */
function kmsError(answer: Record<string, unknown>, response: Response): KmsError {
  const type = String(answer.__type ?? response.headers.get('x-amzn-errortype') ?? `Http${response.status}`);
  const code = type.slice(type.lastIndexOf('#') + 1).split(':')[0] || `Http${response.status}`;
  return new KmsError(code, String(answer.message ?? answer.Message ?? ''), response.status);
}
