import type { IncomingMessage } from 'node:http';
import type { Principal, Principals } from './principals.js';
import { type AwsError, type AwsService, commonError, type Protocol } from './service.js';
import { constantTimeEqual, parseAuthorization, SignatureError, verifySignature } from './sigv4.js';

/**
 * What the endpoint (index.ts) learns of a request before any service parses it: which service it
 * is for, which protocol its errors must be spelled in, where it came from, and who signed it. A
 * request without a usable signature still gets a service, an event name and a source, so that its
 * refusal is recorded like any other call.
 */

/** Without a usable signature there is no service scope: guess from the request's shape. */
export function guessService(req: IncomingMessage, body: Buffer): string {
  const target = String(req.headers['x-amz-target'] ?? '');
  if (target.startsWith('DynamoDB_')) return 'dynamodb';
  if (target.startsWith('AWSStepFunctions.')) return 'states';
  if (target.startsWith('secretsmanager.')) return 'secretsmanager';
  if (target.startsWith('TrentService.')) return 'kms';
  if (String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
    return new URLSearchParams(body.toString('utf8')).get('Version') === '2010-05-08' ? 'iam' : 'sts';
  }
  return target ? 'unknown' : 's3';
}

export function protocolOf(service: AwsService | undefined, req: IncomingMessage): Protocol {
  if (service) return service.protocol;
  if (req.headers['x-amz-target']) return 'json';
  return String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')
    ? 'query'
    : 'json';
}

/** The operation a request names when no service understood it: its X-Amz-Target's last part, else its method. */
export function unparsedEventName(req: IncomingMessage): string {
  return (
    String(req.headers['x-amz-target'] ?? '')
      .split('.')
      .pop() ||
    req.method ||
    'Unknown'
  );
}

/** CloudTrail's sourceIPAddress: the peer, IPv4 addresses without their IPv6 mapping. */
export function sourceIpOf(req: IncomingMessage): string {
  return (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
}

/**
 * The caller of a request: its access key must be a live session's, its session token that
 * session's, and its SigV4 signature exact. Refusals are spelled in `protocol`, as AWS spells them.
 */
export function authenticate(
  principals: Principals,
  req: IncomingMessage,
  body: Buffer,
  protocol: Protocol,
  time: Date,
): { principal?: Principal; error?: AwsError; accessKeyId?: string } {
  const header = req.headers.authorization;
  if (header === undefined) {
    return { error: commonError(protocol, 'MissingAuth', 'Request is missing Authentication Token') };
  }
  const auth = parseAuthorization(header);
  if (!auth) {
    return {
      error: commonError(
        protocol,
        'IncompleteSignature',
        'Authorization header is not a valid AWS Signature Version 4 header',
      ),
    };
  }
  const principal = principals.byAccessKey(auth.accessKeyId);
  const token = String(req.headers['x-amz-security-token'] ?? '');
  if (!principal || !constantTimeEqual(token, principal.sessionToken)) {
    return {
      accessKeyId: auth.accessKeyId,
      error: commonError(protocol, 'UnknownKey', 'The security token included in the request is invalid.'),
    };
  }
  try {
    verifySignature(req, body, auth, principal.secretAccessKey, time);
  } catch (error) {
    if (!(error instanceof SignatureError)) throw error;
    const failure = error.code === 'IncompleteSignature' ? 'IncompleteSignature' : 'BadSignature';
    return { principal, error: commonError(protocol, failure, error.message) };
  }
  if (time.getTime() >= principal.expiresAt.getTime()) {
    return {
      principal,
      error: commonError(protocol, 'Expired', 'The security token included in the request is expired'),
    };
  }
  return { principal };
}
