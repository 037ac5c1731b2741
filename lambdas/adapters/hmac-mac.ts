import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Mac } from '../core/ports.js';

/** HMAC-SHA-256 keys are 32 bytes: as long as the hash, as KMS's HMAC_256 keys are. */
const KEY_BYTES = 32;

/**
 * The Mac port with a key held in this process: what the local stack uses (a key file in its data
 * directory) and what tests sign with. On AWS the key stays in KMS (KmsMac).
 */
export class HmacMac implements Mac {
  private readonly key: Buffer;

  constructor(key: Buffer) {
    if (key.length < KEY_BYTES) throw new Error(`an HMAC key needs at least ${KEY_BYTES} bytes`);
    this.key = Buffer.from(key);
  }

  async sign(data: string): Promise<string> {
    return createHmac('sha256', this.key).update(data, 'utf8').digest('base64');
  }

  async verify(data: string, mac: string): Promise<boolean> {
    const expected = createHmac('sha256', this.key).update(data, 'utf8').digest();
    const given = Buffer.from(mac, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

/**
 * The local history key: read from `path`, or created there (random, owner-only) on first use, so
 * the chain stays verifiable across restarts of the same data directory.
 */
export function localHistoryKey(path: string): Buffer {
  if (existsSync(path)) {
    const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
    if (key.length < KEY_BYTES) throw new Error(`${path} does not hold a ${KEY_BYTES}-byte base64 key`);
    return key;
  }
  mkdirSync(dirname(path), { recursive: true });
  const key = randomBytes(KEY_BYTES);
  writeFileSync(path, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return key;
}
