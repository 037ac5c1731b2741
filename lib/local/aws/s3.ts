import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AwsError,
  type AwsService,
  el,
  type ParsedCall,
  type ServiceAnswer,
  type ServiceEnvironment,
} from './service.js';

/**
 * S3 (REST XML, path-style `/bucket/key`): CreateBucket, PutObject, GetObject, HeadObject,
 * DeleteObject, ListObjectsV2. Objects live in the data dir (`s3/<bucket>/<hex of key>`) or in
 * memory. Object calls are CloudTrail data events; CreateBucket is a management event.
 */

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';
const MAX_KEYS = 1000;

interface StoredObject {
  readonly body: Buffer;
  readonly etag: string;
  readonly contentType: string;
  readonly lastModified: Date;
}

interface ObjectStore {
  hasBucket(bucket: string): boolean;
  createBucket(bucket: string): void;
  put(bucket: string, key: string, object: StoredObject): void;
  get(bucket: string, key: string): StoredObject | undefined;
  delete(bucket: string, key: string): void;
  keys(bucket: string): string[];
  /** Size, ETag and date without the body. */
  head(bucket: string, key: string): (Omit<StoredObject, 'body'> & { size: number }) | undefined;
}

function memoryStore(): ObjectStore {
  const buckets = new Map<string, Map<string, StoredObject>>();
  return {
    hasBucket: (b) => buckets.has(b),
    createBucket: (b) => void buckets.set(b, buckets.get(b) ?? new Map()),
    put: (b, k, o) => void buckets.get(b)?.set(k, o),
    get: (b, k) => buckets.get(b)?.get(k),
    delete: (b, k) => void buckets.get(b)?.delete(k),
    keys: (b) => [...(buckets.get(b)?.keys() ?? [])],
    head(b, k) {
      const o = buckets.get(b)?.get(k);
      return o
        ? { etag: o.etag, contentType: o.contentType, lastModified: o.lastModified, size: o.body.length }
        : undefined;
    },
  };
}

/** One file per object, named by the hex of its key (any key is a safe file name), plus a metadata file. */
function fileStore(root: string): ObjectStore {
  const dir = (b: string) => join(root, b);
  const file = (b: string, k: string) => join(dir(b), Buffer.from(k, 'utf8').toString('hex'));
  const meta = (b: string, k: string) => {
    try {
      return JSON.parse(readFileSync(`${file(b, k)}.meta`, 'utf8')) as {
        etag: string;
        contentType: string;
        lastModified: string;
      };
    } catch {
      return undefined;
    }
  };
  const write = (path: string, data: string | Buffer) => {
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, data, { mode: 0o600 });
    renameSync(tmp, path);
  };
  return {
    hasBucket: (b) => {
      try {
        return statSync(dir(b)).isDirectory();
      } catch {
        return false;
      }
    },
    createBucket: (b) => void mkdirSync(dir(b), { recursive: true, mode: 0o700 }),
    put(b, k, o) {
      write(file(b, k), o.body);
      write(
        `${file(b, k)}.meta`,
        JSON.stringify({
          etag: o.etag,
          contentType: o.contentType,
          lastModified: o.lastModified.toISOString(),
        }),
      );
    },
    get(b, k) {
      const m = meta(b, k);
      if (!m) return undefined;
      return {
        body: readFileSync(file(b, k)),
        etag: m.etag,
        contentType: m.contentType,
        lastModified: new Date(m.lastModified),
      };
    },
    delete(b, k) {
      rmSync(file(b, k), { force: true });
      rmSync(`${file(b, k)}.meta`, { force: true });
    },
    keys: (b) =>
      readdirSync(dir(b))
        .filter((name) => name.endsWith('.meta'))
        .map((name) => Buffer.from(name.slice(0, -'.meta'.length), 'hex').toString('utf8')),
    head(b, k) {
      const m = meta(b, k);
      if (!m) return undefined;
      return {
        etag: m.etag,
        contentType: m.contentType,
        lastModified: new Date(m.lastModified),
        size: statSync(file(b, k)).size,
      };
    },
  };
}

interface S3Input {
  readonly bucket: string;
  readonly key?: string;
  readonly body: Buffer;
  readonly contentType?: string;
  readonly prefix?: string;
  readonly maxKeys: number;
  readonly continuationToken?: string;
  readonly startAfter?: string;
}

function decodeSegment(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new AwsError('InvalidURI', 400, "Couldn't parse the specified URI.");
  }
}

export function createS3Service(env: ServiceEnvironment): AwsService & { ensureBucket(name: string): void } {
  const store = env.dataDir === undefined ? memoryStore() : fileStore(join(env.dataDir, 's3'));

  function route(
    method: string,
    path: string,
    query: URLSearchParams,
  ): { operation: string; bucket: string; key?: string } {
    const trimmed = path.replace(/^\//, '');
    const slash = trimmed.indexOf('/');
    const bucket = decodeSegment(slash === -1 ? trimmed : trimmed.slice(0, slash));
    const key =
      slash === -1 || slash === trimmed.length - 1 ? undefined : decodeSegment(trimmed.slice(slash + 1));
    const subresources = [...query.keys()].filter(
      (k) =>
        ![
          'list-type',
          'prefix',
          'max-keys',
          'continuation-token',
          'start-after',
          'x-id',
          'encoding-type',
          'delimiter',
          'fetch-owner',
        ].includes(k),
    );
    if (subresources.length > 0) {
      throw new AwsError(
        'NotImplemented',
        501,
        `The ${subresources[0]} subresource is not emulated by the local S3.`,
      );
    }
    if (!bucket) throw new AwsError('NotImplemented', 501, 'ListBuckets is not emulated by the local S3.');
    if (key === undefined) {
      if (method === 'PUT') return { operation: 'CreateBucket', bucket };
      if (method === 'GET' && query.get('list-type') === '2') return { operation: 'ListObjectsV2', bucket };
      throw new AwsError(
        'NotImplemented',
        501,
        `${method} on a bucket is not emulated by the local S3 (ListObjectsV2 and CreateBucket are).`,
      );
    }
    const op = { PUT: 'PutObject', GET: 'GetObject', HEAD: 'HeadObject', DELETE: 'DeleteObject' }[method];
    if (!op)
      throw new AwsError('NotImplemented', 501, `${method} on an object is not emulated by the local S3.`);
    if (op === 'PutObject' && (query.has('partNumber') || query.has('uploadId')))
      throw new AwsError('NotImplemented', 501, 'Multipart uploads are not emulated.');
    return { operation: op, bucket, key };
  }

  const xml = (
    status: number,
    body: string,
    requestId: string,
    responseElements: Record<string, unknown> | null = null,
  ): ServiceAnswer => ({
    status,
    headers: { 'content-type': 'application/xml', 'x-amz-request-id': requestId },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n${body}`,
    responseElements,
  });
  const noSuchBucket = (bucket: string) =>
    new AwsError('NoSuchBucket', 404, `The specified bucket does not exist: ${bucket}`);

  return {
    /** A bucket that exists before anyone calls (the local world's data, not Countersign's). */
    ensureBucket(name: string) {
      if (!store.hasBucket(name)) store.createBucket(name);
    },
    signingName: 's3',
    eventSource: 's3.amazonaws.com',
    protocol: 'rest-xml',
    operationName(request) {
      try {
        return route(request.method, request.path, request.query).operation;
      } catch {
        return request.method;
      }
    },
    parse(request): ParsedCall {
      // Path-style only: a bucket in the host name would name another bucket than the path does.
      if (/^[^.:[\]]+\.(localhost|127\.0\.0\.1)(:\d+)?$/i.test(String(request.headers.host ?? ''))) {
        throw new AwsError(
          'NotImplemented',
          501,
          'Virtual-hosted-style requests are not emulated; use path-style (forcePathStyle).',
        );
      }
      const { operation, bucket, key } = route(request.method, request.path, request.query);
      if (!BUCKET.test(bucket))
        throw new AwsError('InvalidBucketName', 400, 'The specified bucket is not valid.');
      const bucketArn = `arn:aws:s3:::${bucket}`;
      const objectArn = key === undefined ? undefined : `${bucketArn}/${key}`;
      const prefix = request.query.get('prefix') ?? undefined;
      const maxKeysText = request.query.get('max-keys');
      const maxKeys = maxKeysText === null ? MAX_KEYS : Number(maxKeysText);
      if (!Number.isInteger(maxKeys) || maxKeys < 0)
        throw new AwsError(
          'InvalidArgument',
          400,
          'Provided max-keys not an integer or within integer range',
        );
      const context = new Map<string, string[]>();
      if (operation === 'ListObjectsV2') {
        if (prefix !== undefined) context.set('s3:prefix', [prefix]);
        if (maxKeysText !== null) context.set('s3:max-keys', [maxKeysText]);
      }
      const action =
        operation === 'ListObjectsV2'
          ? 's3:ListBucket'
          : operation === 'HeadObject'
            ? 's3:GetObject'
            : `s3:${operation}`;
      const host = String(request.headers.host ?? '');
      const contentType = request.headers['content-type'];
      const token = request.query.get('continuation-token') ?? undefined;
      const startAfter = request.query.get('start-after') ?? undefined;
      return {
        operation,
        authorizations: [{ action, resource: objectArn ?? bucketArn, context }],
        requestParameters: {
          bucketName: bucket,
          Host: host,
          ...(key !== undefined ? { key } : {}),
          ...(operation === 'ListObjectsV2'
            ? {
                'list-type': '2',
                ...(prefix !== undefined ? { prefix } : {}),
                ...(maxKeysText !== null ? { 'max-keys': maxKeysText } : {}),
              }
            : {}),
        },
        readOnly: operation !== 'PutObject' && operation !== 'DeleteObject' && operation !== 'CreateBucket',
        managementEvent: operation === 'CreateBucket',
        resources: [
          ...(objectArn ? [{ type: 'AWS::S3::Object', ARN: objectArn }] : []),
          { type: 'AWS::S3::Bucket', ARN: bucketArn },
        ],
        input: {
          bucket,
          body: request.body,
          maxKeys,
          ...(key !== undefined ? { key } : {}),
          ...(typeof contentType === 'string' ? { contentType } : {}),
          ...(prefix !== undefined ? { prefix } : {}),
          ...(token !== undefined ? { continuationToken: token } : {}),
          ...(startAfter !== undefined ? { startAfter } : {}),
        } satisfies S3Input,
      };
    },
    async serve(call, ctx) {
      const input = call.input as S3Input;
      const { bucket } = input;
      if (call.operation === 'CreateBucket') {
        if (store.hasBucket(bucket))
          throw new AwsError(
            'BucketAlreadyOwnedByYou',
            409,
            'Your previous request to create the named bucket succeeded and you already own it.',
          );
        store.createBucket(bucket);
        return {
          status: 200,
          headers: { location: `/${bucket}`, 'x-amz-request-id': ctx.requestId },
          body: '',
          responseElements: null,
        };
      }
      if (!store.hasBucket(bucket)) throw noSuchBucket(bucket);
      const key = input.key as string;
      switch (call.operation) {
        case 'PutObject': {
          const etag = `"${createHash('md5').update(input.body).digest('hex')}"`;
          store.put(bucket, key, {
            body: input.body,
            etag,
            contentType: input.contentType ?? 'application/octet-stream',
            lastModified: ctx.now,
          });
          return { status: 200, headers: { etag, 'x-amz-request-id': ctx.requestId }, body: '' };
        }
        case 'GetObject':
        case 'HeadObject': {
          if (call.operation === 'HeadObject') {
            const head = store.head(bucket, key);
            if (!head) throw new AwsError('NotFound', 404, 'Not Found');
            return {
              status: 200,
              headers: {
                etag: head.etag,
                'content-type': head.contentType,
                'content-length': String(head.size),
                'last-modified': head.lastModified.toUTCString(),
                'x-amz-request-id': ctx.requestId,
              },
              body: Buffer.alloc(0),
            };
          }
          const object = store.get(bucket, key);
          if (!object) throw new AwsError('NoSuchKey', 404, 'The specified key does not exist.');
          return {
            status: 200,
            headers: {
              etag: object.etag,
              'content-type': object.contentType,
              'last-modified': object.lastModified.toUTCString(),
              'x-amz-request-id': ctx.requestId,
            },
            body: object.body,
          };
        }
        case 'DeleteObject':
          store.delete(bucket, key);
          return { status: 204, headers: { 'x-amz-request-id': ctx.requestId }, body: '' };
        default: {
          const prefix = input.prefix ?? '';
          const after =
            input.continuationToken !== undefined
              ? Buffer.from(input.continuationToken, 'base64url').toString('utf8')
              : input.startAfter;
          const all = store
            .keys(bucket)
            .filter((k) => k.startsWith(prefix) && (after === undefined || k > after))
            .sort();
          const page = all.slice(0, Math.min(input.maxKeys, MAX_KEYS));
          const truncated = all.length > page.length;
          const contents = page
            .map((k) => {
              const head = store.head(bucket, k);
              if (!head) return '';
              return `<Contents>${el('Key', k)}${el('LastModified', head.lastModified.toISOString())}${el('ETag', head.etag)}${el('Size', String(head.size))}<StorageClass>STANDARD</StorageClass></Contents>`;
            })
            .join('');
          const next =
            truncated && page.length > 0
              ? el(
                  'NextContinuationToken',
                  Buffer.from(page[page.length - 1] as string, 'utf8').toString('base64url'),
                )
              : '';
          return xml(
            200,
            `<ListBucketResult xmlns="${XMLNS}">${el('Name', bucket)}${el('Prefix', prefix)}${el('KeyCount', String(page.length))}${el('MaxKeys', String(input.maxKeys))}<IsTruncated>${truncated}</IsTruncated>${contents}${input.continuationToken !== undefined ? el('ContinuationToken', input.continuationToken) : ''}${next}</ListBucketResult>`,
            ctx.requestId,
          );
        }
      }
    },
  };
}
