import { CallNotSupportedError } from '../core/errors.js';
import type { CallExecutor, CallOutcome, CallToMake } from '../core/exact-call-execution.js';
import {
  configuredEndpoint,
  dnsSuffix,
  regionalEndpoint,
  type SignedRequest,
  signedFetch,
} from './signed-fetch.js';

/**
 * Makes an exact call: one HTTPS request in the service's own protocol, signed with SigV4 by the
 * session minted for that call. For the JSON-protocol services (DynamoDB, SQS, Secrets Manager, SSM)
 * the body is the approved input byte for byte and the answer the service's JSON as it came
 * (DynamoDB attribute values, base64 binary). S3 object operations map the allow-listed fields to
 * their headers and query parameters (the body as text, ListObjectsV2's XML as text), Lambda Invoke
 * sends the payload as the body, SNS Publish the form encoding. Whatever comes back is masked.
 *
 * Why not the SDK client per service: each client adds its command schemas and serde to the one-file
 * Lambda bundle (DynamoDB's five commands alone were 43 KB, the JSON-protocol clients 350 KB more),
 * and for a call that must be exactly what was approved a generic, schema-free request is both
 * smaller and more faithful. Requests are signed and sent by signed-fetch.ts, with the SDK's signer.
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

/** JSON answers larger than this are not read: the masked, stored output is far smaller anyway. */
export const MAX_ANSWER_BYTES = 1024 * 1024;
/** Object bodies and function payloads are read up to this many bytes, then masked as text. */
export const MAX_BODY_BYTES = 256 * 1024;
const CALL_TIMEOUT_MS = 10_000;

export interface SigV4CallExecutorOptions {
  /** Region for ARNs that carry none. */
  defaultRegion: string;
  /** Endpoint per IAM service prefix (`dynamodb`…), e.g. the local stack's. */
  endpoints?: Partial<Record<string, string>>;
  /** The environment's AWS_ENDPOINT_URL* variables. */
  env?: Record<string, string | undefined>;
}

/** One HTTP request to make, before signing. */
type Outgoing = Omit<SignedRequest, 'service' | 'region' | 'credentials' | 'timeoutMs'>;

/** S3 object operations: input field → request header. */
const S3_HEADERS: Readonly<Record<string, string>> = {
  IfMatch: 'if-match',
  IfNoneMatch: 'if-none-match',
  IfModifiedSince: 'if-modified-since',
  IfUnmodifiedSince: 'if-unmodified-since',
  Range: 'range',
  ChecksumMode: 'x-amz-checksum-mode',
  ExpectedBucketOwner: 'x-amz-expected-bucket-owner',
  ContentType: 'content-type',
  ContentLanguage: 'content-language',
  ContentDisposition: 'content-disposition',
  CacheControl: 'cache-control',
  StorageClass: 'x-amz-storage-class',
};
/** S3 answer headers worth returning, as the SDK names them. */
const S3_ANSWER_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'ContentType',
  'content-length': 'ContentLength',
  etag: 'ETag',
  'last-modified': 'LastModified',
  'x-amz-version-id': 'VersionId',
  'x-amz-delete-marker': 'DeleteMarker',
  'x-amz-storage-class': 'StorageClass',
  'x-amz-server-side-encryption': 'ServerSideEncryption',
};
const S3_METHODS: Readonly<Record<string, Outgoing['method']>> = {
  GetObject: 'GET',
  HeadObject: 'HEAD',
  PutObject: 'PUT',
  DeleteObject: 'DELETE',
  ListObjectsV2: 'GET',
};
const LIST_QUERY: Readonly<Record<string, string>> = {
  Prefix: 'prefix',
  Delimiter: 'delimiter',
  MaxKeys: 'max-keys',
  ContinuationToken: 'continuation-token',
  StartAfter: 'start-after',
  EncodingType: 'encoding-type',
  FetchOwner: 'fetch-owner',
};

export class SigV4CallExecutor implements CallExecutor {
  constructor(private readonly options: SigV4CallExecutorOptions) {}

  supports(operation: string): boolean {
    const service = operation.split(':')[0] ?? '';
    return JSON_SERVICES[service] !== undefined || ['s3', 'lambda', 'sns'].includes(service);
  }

  async execute(call: CallToMake): Promise<CallOutcome> {
    const [service, operation] = call.operation.split(':') as [string, string];
    const region = call.region ?? this.options.defaultRegion;
    const input = call.input;
    switch (service) {
      case 's3':
        return this.s3(operation, input, region, call);
      case 'lambda':
        return this.invoke(input, region, call);
      case 'sns':
        return this.publish(input, region, call);
    }
    const spec = JSON_SERVICES[service];
    if (!spec) throw new CallNotSupportedError(call.operation);
    const response = await this.send(service, region, call, {
      method: 'POST',
      url: new URL(this.endpoint(service, spec.env, spec.host, region)),
      headers: {
        'content-type': `application/x-amz-json-${spec.version}`,
        'x-amz-target': `${spec.target}.${operation}`,
      },
      body: JSON.stringify(input),
    });
    const text = await readLimited(response);
    let answer: Record<string, unknown> = {};
    try {
      answer = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      if (response.ok) throw new Error('the service answered with something other than JSON');
    }
    if (response.ok) return { ok: true, output: answer };
    return { ok: false, awsError: jsonError(answer, response) };
  }

  /** S3 object operations and ListObjectsV2, path-style against a given endpoint. */
  private async s3(
    operation: string,
    input: Record<string, unknown>,
    region: string,
    call: CallToMake,
  ): Promise<CallOutcome> {
    const method = S3_METHODS[operation];
    if (!method) throw new CallNotSupportedError(call.operation);
    const bucket = String(input.Bucket);
    const base = this.endpointOrUndefined('s3', 'S3');
    const key = typeof input.Key === 'string' ? input.Key.split('/').map(uriEncode).join('/') : '';
    const url = base
      ? new URL(`${base.replace(/\/+$/, '')}/${uriEncode(bucket)}/${key}`)
      : new URL(`https://${bucket}.s3.${region}.${dnsSuffix(region)}/${key}`);
    const headers: Record<string, string> = {};
    for (const [field, header] of Object.entries(S3_HEADERS)) {
      if (input[field] !== undefined) headers[header] = String(input[field]);
    }
    for (const [name, value] of Object.entries(
      (input.Metadata as Record<string, string> | undefined) ?? {},
    )) {
      headers[`x-amz-meta-${name.toLowerCase()}`] = value;
    }
    if (input.PartNumber !== undefined) url.searchParams.set('partNumber', String(input.PartNumber));
    if (operation === 'ListObjectsV2') {
      url.searchParams.set('list-type', '2');
      for (const [field, param] of Object.entries(LIST_QUERY)) {
        if (input[field] !== undefined) url.searchParams.set(param, String(input[field]));
      }
    }
    const body = operation === 'PutObject' ? String(input.Body ?? '') : undefined;
    const response = await this.send('s3', region, call, {
      method,
      url,
      headers,
      ...(body !== undefined ? { body } : {}),
      s3: true,
    });
    const { text, truncated } = method === 'HEAD' ? { text: '', truncated: false } : await readUpTo(response);
    if (!response.ok) return { ok: false, awsError: xmlError(text, response) };
    const output: Record<string, unknown> = {};
    for (const [header, field] of Object.entries(S3_ANSWER_HEADERS)) {
      const value = response.headers.get(header);
      if (value !== null) output[field] = field === 'ContentLength' ? Number(value) : value;
    }
    if (operation === 'GetObject') {
      output.Body = bodyText(text, response);
      if (truncated) output.BodyTruncated = true;
    }
    // The listing is returned as its XML text (masked as text): no XML model is bundled for it.
    if (operation === 'ListObjectsV2') output.ListBucketResult = text;
    return { ok: true, output };
  }

  /** Lambda Invoke (REST-JSON): the payload is the body; the function's answer is the output. */
  private async invoke(
    input: Record<string, unknown>,
    region: string,
    call: CallToMake,
  ): Promise<CallOutcome> {
    const base = this.endpoint('lambda', 'LAMBDA', 'lambda', region).replace(/\/+$/, '');
    const url = new URL(
      `${base}/2015-03-31/functions/${encodeURIComponent(String(input.FunctionName))}/invocations`,
    );
    if (input.Qualifier !== undefined) url.searchParams.set('Qualifier', String(input.Qualifier));
    const payload =
      input.Payload === undefined
        ? ''
        : typeof input.Payload === 'string'
          ? input.Payload
          : JSON.stringify(input.Payload);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (input.InvocationType !== undefined) headers['x-amz-invocation-type'] = String(input.InvocationType);
    if (input.LogType !== undefined) headers['x-amz-log-type'] = String(input.LogType);
    const response = await this.send('lambda', region, call, { method: 'POST', url, headers, body: payload });
    const { text, truncated } = await readUpTo(response);
    if (!response.ok) {
      let answer: Record<string, unknown> = {};
      try {
        answer = JSON.parse(text) as Record<string, unknown>;
      } catch {}
      return { ok: false, awsError: jsonError(answer, response) };
    }
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {}
    const functionError = response.headers.get('x-amz-function-error');
    return {
      ok: true,
      output: {
        StatusCode: response.status,
        ...(functionError ? { FunctionError: functionError } : {}),
        ...(response.headers.get('x-amz-executed-version')
          ? { ExecutedVersion: response.headers.get('x-amz-executed-version') }
          : {}),
        Payload: parsed,
        ...(truncated ? { PayloadTruncated: true } : {}),
      },
    };
  }

  /** SNS Publish (query protocol: form-encoded in, XML out). */
  private async publish(
    input: Record<string, unknown>,
    region: string,
    call: CallToMake,
  ): Promise<CallOutcome> {
    const form = new URLSearchParams({ Action: 'Publish', Version: '2010-03-31' });
    for (const field of [
      'TopicArn',
      'Message',
      'Subject',
      'MessageStructure',
      'MessageDeduplicationId',
      'MessageGroupId',
    ]) {
      if (input[field] !== undefined) form.set(field, String(input[field]));
    }
    const attributes = (input.MessageAttributes ?? {}) as Record<string, Record<string, unknown>>;
    Object.entries(attributes).forEach(([name, value], i) => {
      const prefix = `MessageAttributes.entry.${i + 1}`;
      form.set(`${prefix}.Name`, name);
      for (const [k, v] of Object.entries(value ?? {})) form.set(`${prefix}.Value.${k}`, String(v));
    });
    const body = form.toString();
    const response = await this.send('sns', region, call, {
      method: 'POST',
      url: new URL(this.endpoint('sns', 'SNS', 'sns', region)),
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body,
    });
    const text = await readLimited(response);
    if (!response.ok) return { ok: false, awsError: xmlError(text, response) };
    const messageId = /<MessageId>([^<]*)<\/MessageId>/.exec(text)?.[1];
    const sequence = /<SequenceNumber>([^<]*)<\/SequenceNumber>/.exec(text)?.[1];
    return {
      ok: true,
      output: {
        ...(messageId ? { MessageId: messageId } : {}),
        ...(sequence ? { SequenceNumber: sequence } : {}),
      },
    };
  }

  /** Signs `out` with the call's session (SigV4) and sends it once, with a timeout. */
  private send(service: string, region: string, call: CallToMake, out: Outgoing): Promise<Response> {
    return signedFetch({
      ...out,
      service,
      region,
      credentials: {
        accessKeyId: call.credentials.AccessKeyId,
        secretAccessKey: call.credentials.SecretAccessKey,
        sessionToken: call.credentials.SessionToken,
      },
      timeoutMs: CALL_TIMEOUT_MS,
    });
  }

  private endpointOrUndefined(service: string, envName: string): string | undefined {
    return this.options.endpoints?.[service] ?? configuredEndpoint(this.options.env ?? {}, envName);
  }

  private endpoint(service: string, envName: string, host: string, region: string): string {
    return this.endpointOrUndefined(service, envName) ?? regionalEndpoint(host, region);
  }
}

/** RFC 3986 unreserved characters stay; everything else is percent-encoded, as SigV4 canonicalizes. */
const uriEncode = (segment: string) =>
  encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * A body (an S3 object, a function's answer) up to MAX_BODY_BYTES, cut at a character boundary
 * beyond that: what is returned is masked as text, and anything larger would only be cut later.
 */
async function readUpTo(response: Response): Promise<{ text: string; truncated: boolean }> {
  const reader = response.body?.getReader();
  if (!reader) return { text: '', truncated: false };
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const room = MAX_BODY_BYTES - size;
    if (value.byteLength > room) {
      chunks.push(value.subarray(0, room));
      size += room;
      truncated = true;
      await reader.cancel().catch(() => undefined);
      break;
    }
    chunks.push(value);
    size += value.byteLength;
  }
  const bytes = Buffer.concat(chunks);
  // A cut may split a UTF-8 sequence; the decoder's replacement character for it is dropped.
  let text = new TextDecoder('utf-8').decode(bytes);
  if (truncated) text = text.replace(/\ufffd$/, '');
  return { text, truncated };
}

/** awsJson / REST-JSON errors: `__type` or the x-amzn-errortype header is `namespace#Code`. */
function jsonError(answer: Record<string, unknown>, response: Response): { code: string; message: string } {
  const type = String(
    answer.__type ?? answer.Type ?? response.headers.get('x-amzn-errortype') ?? `Http${response.status}`,
  );
  const code = type.slice(type.lastIndexOf('#') + 1).split(':')[0] || `Http${response.status}`;
  return { code, message: String(answer.message ?? answer.Message ?? '') };
}

/** S3 / query-protocol errors: `<Error><Code>…</Code><Message>…</Message></Error>`. */
function xmlError(text: string, response: Response): { code: string; message: string } {
  const code = /<Code>([^<]{1,200})<\/Code>/.exec(text)?.[1] ?? `Http${response.status}`;
  const message = /<Message>([^<]{0,1000})<\/Message>/.exec(text)?.[1] ?? '';
  return { code, message };
}

/** An object's body: text as it is, anything that is not UTF-8 described instead of returned. */
function bodyText(text: string, response: Response): unknown {
  if (text.includes('\ufffd')) {
    return { binary: true, bytes: Number(response.headers.get('content-length') ?? text.length) };
  }
  return text;
}

async function readLimited(response: Response): Promise<string> {
  const length = Number(response.headers.get('content-length') ?? '0');
  if (length > MAX_ANSWER_BYTES) throw new Error('the answer is larger than exact calls read');
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.byteLength > MAX_ANSWER_BYTES) throw new Error('the answer is larger than exact calls read');
  return new TextDecoder('utf-8').decode(bytes);
}
