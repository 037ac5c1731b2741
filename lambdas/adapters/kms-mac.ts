import { createHash } from 'node:crypto';
import { DependencyError } from '../core/errors.js';
import type { Mac } from '../core/ports.js';
import { type KmsClient, KmsError } from './kms-client.js';

/**
 * The Mac port on an AWS KMS HMAC key (key spec HMAC_256): GenerateMac and VerifyMac with
 * HMAC_SHA_256, so the key material never leaves KMS. KMS accepts messages up to 4,096 bytes; the
 * evidence inputs are longer, so their SHA-256 is what KMS MACs (domain-separated, so a digest
 * and a message can never be confused). The same adapter runs against the local AWS endpoint.
 * The calls go through kms-client.ts (signed fetch, the SDK's retries), not @aws-sdk/client-kms.
 */
export class KmsMac implements Mac {
  constructor(
    private readonly client: KmsClient,
    /** Key id, ARN or alias of the HMAC key (the stack's HISTORY_KEY_ID). */
    private readonly keyId: string,
  ) {}

  async sign(data: string): Promise<string> {
    try {
      const out = await this.client.send('GenerateMac', {
        KeyId: this.keyId,
        MacAlgorithm: 'HMAC_SHA_256',
        Message: digest(data),
      });
      const mac = typeof out.Mac === 'string' ? Buffer.from(out.Mac, 'base64') : undefined;
      if (!mac?.length) throw new Error('KMS answered GenerateMac without a MAC');
      return mac.toString('base64');
    } catch (error) {
      throw new DependencyError('The history key is unavailable; nothing was changed. Retry.', {
        cause: error,
      });
    }
  }

  async verify(data: string, mac: string): Promise<boolean> {
    const given = Buffer.from(mac, 'base64');
    // HMAC_SHA_256 MACs are 32 bytes. Anything else is a wrong MAC, answered here: KMS would refuse a
    // long one as a ValidationException, and a stored value that turned every check into an outage
    // would hide a record instead of flagging it.
    if (given.length !== MAC_BYTES) return false;
    try {
      const out = await this.client.send('VerifyMac', {
        KeyId: this.keyId,
        MacAlgorithm: 'HMAC_SHA_256',
        Message: digest(data),
        Mac: given.toString('base64'),
      });
      return out.MacValid === true;
    } catch (error) {
      // KMS answers a wrong MAC with an exception, not with MacValid: false.
      if (error instanceof KmsError && error.code === 'KMSInvalidMacException') {
        return false;
      }
      throw new DependencyError('The history key is unavailable; the history cannot be checked now.', {
        cause: error,
      });
    }
  }
}

/** The blob KMS MACs, base64 as JSON 1.1 carries blobs. */
/** The length of an HMAC_SHA_256 MAC. */
const MAC_BYTES = 32;

function digest(data: string): string {
  return createHash('sha256').update('countersign:kms-mac:v1|').update(data, 'utf8').digest('base64');
}
