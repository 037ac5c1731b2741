import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The embedded issuer's signing key. Kept in the data directory (mode 0600) so tokens handed out
 * before a restart still verify after it; in memory with `--in-memory`, where nothing survives.
 */
export function loadIssuerKey(dataDir: string | undefined): KeyObject {
  if (!dataDir) return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const path = join(dataDir, 'issuer-key.pem');
  if (existsSync(path)) return createPrivateKey(readFileSync(path, 'utf8'));
  mkdirSync(dataDir, { recursive: true });
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(path, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  return privateKey;
}
