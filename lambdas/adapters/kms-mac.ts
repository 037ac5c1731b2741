import { createHash } from 'node:crypto';
import {
  GenerateMacCommand,
  type KMSClient,
  KMSInvalidMacException,
  VerifyMacCommand,
} from '@aws-sdk/client-kms';
import { DependencyError } from '../core/errors.js';
import type { Mac } from '../core/ports.js';

/**
 * The Mac port on an AWS KMS HMAC key (key spec HMAC_256): GenerateMac and VerifyMac with
 * HMAC_SHA_256, so the key material never leaves KMS. KMS accepts messages up to 4,096 bytes; the
 * evidence inputs are longer, so their SHA-256 is what KMS MACs (domain-separated, so a digest
 * and a message can never be confused). The same adapter runs against the local AWS endpoint.
 */
export class KmsMac implements Mac {
  constructor(
    private readonly client: KMSClient,
    /** Key id, ARN or alias of the HMAC key (the stack's HISTORY_KEY_ID). */
    private readonly keyId: string,
  ) {}

  async sign(data: string): Promise<string> {
    try {
      const out = await this.client.send(
        new GenerateMacCommand({ KeyId: this.keyId, MacAlgorithm: 'HMAC_SHA_256', Message: digest(data) }),
      );
      if (!out.Mac) throw new Error('KMS answered GenerateMac without a MAC');
      return Buffer.from(out.Mac).toString('base64');
    } catch (error) {
      throw new DependencyError('The history key is unavailable; nothing was changed. Retry.', {
        cause: error,
      });
    }
  }

  async verify(data: string, mac: string): Promise<boolean> {
    const given = Buffer.from(mac, 'base64');
    if (given.length === 0) return false;
    try {
      const out = await this.client.send(
        new VerifyMacCommand({
          KeyId: this.keyId,
          MacAlgorithm: 'HMAC_SHA_256',
          Message: digest(data),
          Mac: given,
        }),
      );
      return out.MacValid === true;
    } catch (error) {
      // KMS answers a wrong MAC with an exception, not with MacValid: false.
      if (error instanceof KMSInvalidMacException || (error as Error).name === 'KMSInvalidMacException') {
        return false;
      }
      throw new DependencyError('The history key is unavailable; the history cannot be checked now.', {
        cause: error,
      });
    }
  }
}

function digest(data: string): Uint8Array {
  return createHash('sha256').update('countersign:kms-mac:v1|').update(data, 'utf8').digest();
}
