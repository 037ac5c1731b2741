import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Mac } from '../core/ports.js';

/** HMAC-SHA-256 keys are 32 bytes: as long as the hash, as KMS's HMAC_256 keys are. */
const KEY_BYTES = 32;

/**
 * The Mac port with a key held in this process: what tests sign with when they run the domain and
 * the store without KMS. Every deployment, the local stack included, keeps the key in KMS (KmsMac).
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
