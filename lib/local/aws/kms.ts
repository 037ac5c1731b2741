import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AwsError,
  type AwsService,
  jsonAnswer,
  jsonBody,
  jsonProtocol,
  type ParsedCall,
  type ServiceEnvironment,
  stringField,
  targetOperation,
  unknownOperation,
} from './service.js';

/**
 * KMS (JSON 1.1, `TrentService.*`), the HMAC subset Countersign's evidence chain uses: CreateKey
 * (KeySpec HMAC_256, KeyUsage GENERATE_VERIFY_MAC), DescribeKey, GenerateMac, VerifyMac with
 * HMAC_SHA_256. Key material never leaves this module: it is persisted (mode 0600) in the data dir
 * when there is one and is returned by no operation.
 */

const PREFIX = 'TrentService';
const KEY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** KMS limit on the message of GenerateMac/VerifyMac. */
const MAX_MESSAGE_BYTES = 4096;

interface Key {
  readonly keyId: string;
  readonly material: Buffer;
  readonly created: number;
  readonly description: string;
}

export function createKmsService(
  env: ServiceEnvironment,
): AwsService & { ensureKey(keyId: string, description: string): void } {
  const keys = new Map<string, Key>();
  const file = env.dataDir === undefined ? undefined : join(env.dataDir, 'kms', 'keys.json');
  if (file) {
    try {
      const stored = JSON.parse(readFileSync(file, 'utf8')) as Array<{
        keyId: string;
        material: string;
        created: number;
        description: string;
      }>;
      for (const k of stored) keys.set(k.keyId, { ...k, material: Buffer.from(k.material, 'base64') });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
        throw new Error(`local KMS: cannot read its key file: ${(error as Error).message}`);
    }
  }
  const persist = () => {
    if (!file) return;
    mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    const body = [...keys.values()].map((k) => ({ ...k, material: k.material.toString('base64') }));
    writeFileSync(tmp, JSON.stringify(body), { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
  };

  const arnOf = (keyId: string, region: string) => `arn:aws:kms:${region}:${env.account}:key/${keyId}`;
  const keyIdOf = (value: string, region: string): string | undefined => {
    if (KEY_ID.test(value)) return value;
    const prefix = `arn:aws:kms:${region}:${env.account}:key/`;
    return value.startsWith(prefix) && KEY_ID.test(value.slice(prefix.length))
      ? value.slice(prefix.length)
      : undefined;
  };
  const metadata = (key: Key, region: string) => ({
    AWSAccountId: env.account,
    KeyId: key.keyId,
    Arn: arnOf(key.keyId, region),
    CreationDate: key.created / 1000,
    Enabled: true,
    Description: key.description,
    KeyUsage: 'GENERATE_VERIFY_MAC',
    KeyState: 'Enabled',
    Origin: 'AWS_KMS',
    KeyManager: 'CUSTOMER',
    CustomerMasterKeySpec: 'HMAC_256',
    KeySpec: 'HMAC_256',
    MacAlgorithms: ['HMAC_SHA_256'],
    MultiRegion: false,
  });
  const message = (body: Record<string, unknown>): Buffer => {
    const text = stringField(body, 'Message') as string;
    const bytes = Buffer.from(text, 'base64');
    if (bytes.length < 1 || bytes.length > MAX_MESSAGE_BYTES) {
      throw new AwsError(
        'ValidationException',
        400,
        `1 validation error detected: Value at 'message' failed to satisfy constraint: Member must have length between 1 and ${MAX_MESSAGE_BYTES}`,
      );
    }
    return bytes;
  };
  const algorithm = (body: Record<string, unknown>) => {
    const value = stringField(body, 'MacAlgorithm');
    if (value !== 'HMAC_SHA_256')
      throw new AwsError(
        'InvalidKeyUsageException',
        400,
        `The MAC algorithm ${value} is not supported by this key (HMAC_SHA_256 only).`,
      );
    return value;
  };

  return {
    /** A key of the template, as CloudFormation creates it: new material once, kept across restarts. */
    ensureKey(keyId: string, description: string) {
      if (!KEY_ID.test(keyId)) throw new Error(`local KMS: ${keyId} is not a key id`);
      if (keys.has(keyId)) return;
      keys.set(keyId, { keyId, material: randomBytes(32), created: Date.now(), description });
      persist();
    },
    ...jsonProtocol('kms', PREFIX, '1.1'),
    parse(request): ParsedCall {
      const operation = targetOperation(request, PREFIX);
      const body = jsonBody(request);
      let resource = '*';
      let key: Key | undefined;
      if (operation === 'CreateKey') {
        if (body.KeySpec !== 'HMAC_256' || body.KeyUsage !== 'GENERATE_VERIFY_MAC') {
          throw new AwsError(
            'UnsupportedOperationException',
            400,
            'The local KMS creates HMAC_256 keys with KeyUsage GENERATE_VERIFY_MAC only.',
          );
        }
      } else if (['DescribeKey', 'GenerateMac', 'VerifyMac'].includes(operation)) {
        const id = stringField(body, 'KeyId') as string;
        const keyId = keyIdOf(id, request.region);
        if (keyId === undefined && id.startsWith('alias/'))
          throw new AwsError(
            'NotFoundException',
            400,
            `Alias ${id} is not found (aliases are not emulated locally).`,
          );
        key = keyId === undefined ? undefined : keys.get(keyId);
        resource = keyId === undefined ? id : arnOf(keyId, request.region);
      } else {
        throw unknownOperation(operation);
      }
      const params: Record<string, unknown> = {};
      for (const k of ['KeyId', 'KeySpec', 'KeyUsage', 'MacAlgorithm'] as const) {
        if (typeof body[k] === 'string') params[k.charAt(0).toLowerCase() + k.slice(1)] = body[k];
      }
      return {
        operation,
        authorizations: [{ action: `kms:${operation}`, resource }],
        requestParameters: params,
        // CloudTrail marks KMS's cryptographic operations read-only.
        readOnly: operation !== 'CreateKey',
        managementEvent: true,
        ...(key ? { resources: [{ type: 'AWS::KMS::Key', ARN: arnOf(key.keyId, request.region) }] } : {}),
        input: { body, key, region: request.region },
      };
    },
    async serve(call, ctx) {
      const { body, key, region } = call.input as {
        body: Record<string, unknown>;
        key?: Key;
        region: string;
      };
      if (call.operation === 'CreateKey') {
        const created: Key = {
          keyId: randomUUID(),
          material: randomBytes(32),
          created: ctx.now.getTime(),
          description: typeof body.Description === 'string' ? body.Description : '',
        };
        keys.set(created.keyId, created);
        persist();
        return jsonAnswer({ KeyMetadata: metadata(created, region) }, '1.1', ctx.requestId, {
          keyMetadata: { keyId: created.keyId, arn: arnOf(created.keyId, region) },
        });
      }
      if (!key) throw new AwsError('NotFoundException', 400, `Key '${String(body.KeyId)}' does not exist`);
      if (call.operation === 'DescribeKey')
        return jsonAnswer({ KeyMetadata: metadata(key, region) }, '1.1', ctx.requestId);
      const macAlgorithm = algorithm(body);
      const mac = createHmac('sha256', key.material).update(message(body)).digest();
      if (call.operation === 'GenerateMac') {
        return jsonAnswer(
          { Mac: mac.toString('base64'), MacAlgorithm: macAlgorithm, KeyId: arnOf(key.keyId, region) },
          '1.1',
          ctx.requestId,
        );
      }
      const given = Buffer.from(stringField(body, 'Mac') as string, 'base64');
      if (given.length !== mac.length || !timingSafeEqual(given, mac)) {
        throw new AwsError('KMSInvalidMacException', 400, 'The MAC is not valid for this message and key.');
      }
      return jsonAnswer(
        { KeyId: arnOf(key.keyId, region), MacValid: true, MacAlgorithm: macAlgorithm },
        '1.1',
        ctx.requestId,
      );
    },
  };
}
