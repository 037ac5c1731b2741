import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StsSessionRecord } from './aws/principals.js';
import {
  constantTimeEqual,
  type ParsedAuthorization,
  parseAuthorization,
  SignatureError,
  verifySignature as verifySigV4,
} from './aws/sigv4.js';
import { BodyTooLargeError, readBody, sendXml, xmlEscape } from './http-server.js';

/**
 * Local STS + IAM (DESIGN.md §2), speaking the AWS Query protocol so the real `@aws-sdk/client-sts`
 * and `@aws-sdk/client-iam` work unchanged. It plays AWS, so the secrets it mints live only in this
 * process's memory; `sessions()` never returns a secret or a session token.
 *
 * Requests signed with a key this service minted are verified exactly (SigV4 over the received
 * request, constant-time compare) and authorised against the role's inline Deny statements and the
 * session policy. Requests signed with any other key (the Lambda's own credentials, which this
 * service never saw) can only be shape-checked; they may call AssumeRole and the IAM role-policy
 * operations, and nothing else. Minted sessions may call the IAM role-policy operations only as a
 * `countersign-revoker` role, on roles of its own account (see `authorizeIam`).
 *
 * One deliberate difference from AWS: AWS answers GetCallerIdentity whatever the policies say. Here
 * it is the probe "would this session still work": it is refused when a Deny on the role matches
 * the session, or when no Allow statement of its session policy has its conditions met any more
 * (the `DateLessThan aws:CurrentTime` end of a grant). `authorize()` answers the same question for
 * a real action and resource.
 */

export interface LocalStsOptions {
  /** The account of the caller and of roles given by name. @default '123456789012' */
  readonly account?: string;
  /** @default 'us-east-1' */
  readonly region?: string;
  /** Role ARNs (or names, in `account`) that exist; AssumeRole of any other role is AccessDenied. */
  readonly roles?: readonly string[];
  /** For tests: the service's clock (expiry, policy conditions, signature age). @default () => new Date() */
  readonly now?: () => Date;
}

export type { StsSessionRecord } from './aws/principals.js';

export interface AuthorizationResult {
  readonly allowed: boolean;
  readonly reason: string;
}

export interface LocalSts {
  /** Node listener for STS and IAM (dispatched on `Action`); ignores the path. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  sessions(): StsSessionRecord[];
  /** Would AWS let this minted session do `action` on `resource` now (role Denies + session policy)? */
  authorize(accessKeyId: string, action: string, resource: string): AuthorizationResult;
  /** The inline policies of a known role, as stored (JSON text). */
  rolePolicies(roleName: string): Record<string, string>;
  stop(): Promise<void>;
}

const STS_VERSION = '2011-06-15';
const IAM_VERSION = '2010-05-08';
const NAMESPACES: Record<string, string> = {
  [STS_VERSION]: `https://sts.amazonaws.com/doc/${STS_VERSION}/`,
  [IAM_VERSION]: `https://iam.amazonaws.com/doc/${IAM_VERSION}/`,
};
const NAME_PATTERN = /^[\w+=,.@-]+$/;
const ROLE_ARN = /^arn:aws:iam::(\d{12}):role\/(?:[\x21-\x7e]*\/)?([\w+=,.@-]{1,64})$/;
/** The role lib/aws/target-role.ts creates in each target account for revoke-request, and what it may do. */
const REVOKER_ROLE_NAME = 'countersign-revoker';
const REVOKER_ACTIONS = new Set(['iam:GetRolePolicy', 'iam:PutRolePolicy', 'iam:DeleteRolePolicy']);
/** STS limit on the plaintext of inline session policies. */
const SESSION_POLICY_LIMIT = 2048;
/** IAM limit on all inline policies of one role together (whitespace not counted). */
const ROLE_INLINE_POLICY_LIMIT = 10_240;
/** Role chaining (the Lambda's role assumes the target role) caps sessions at one hour. */
const ROLE_CHAINING_MAX_SECONDS = 3600;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export class StsApiError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

const validation = (message: string) => new StsApiError('ValidationError', 400, message);
const malformed = (message: string) => new StsApiError('MalformedPolicyDocument', 400, message);

interface Role {
  readonly arn: string;
  readonly account: string;
  readonly name: string;
  readonly roleId: string;
  readonly policies: Map<string, string>;
}

interface Session {
  readonly record: StsSessionRecord;
  readonly secret: string;
  readonly token: string;
  readonly role: Role;
  readonly issuedAtMs: number;
  readonly expiresAtMs: number;
  readonly statements?: Statement[];
}

/** Who signed the request: a session this service minted, or a caller it cannot verify. */
type Caller = { kind: 'session'; session: Session } | { kind: 'external'; accessKeyId: string };

export function createLocalSts(options: LocalStsOptions = {}): LocalSts {
  const account = options.account ?? '123456789012';
  const region = options.region ?? 'us-east-1';
  const now = options.now ?? (() => new Date());
  const roles = new Map<string, Role>();
  const sessions = new Map<string, Session>();
  const records: StsSessionRecord[] = [];

  for (const entry of options.roles ?? []) {
    const arn = entry.startsWith('arn:') ? entry : `arn:aws:iam::${account}:role/${entry}`;
    const match = ROLE_ARN.exec(arn);
    if (!match) throw new Error(`createLocalSts: not a role ARN: ${entry}`);
    const [, roleAccount, name] = match as unknown as [string, string, string];
    // IAM calls name a role without its account, so names must be unambiguous here.
    if (roles.has(name)) throw new Error(`createLocalSts: two roles are named ${name}`);
    roles.set(name, { arn, account: roleAccount, name, roleId: `AROA${base32(17)}`, policies: new Map() });
  }

  function contextOf(session: Session): Map<string, string[]> {
    const r = session.record;
    const ctx = new Map<string, string[]>([
      ['aws:userid', [r.assumedRoleId]],
      ['aws:currenttime', [now().toISOString()]],
      ['aws:tokenissuetime', [r.issuedAt]],
      ['aws:principalarn', [session.role.arn]],
      ['aws:principalaccount', [session.role.account]],
      ['aws:principaltype', ['AssumedRole']],
      ['aws:requestedregion', [region]],
    ]);
    if (r.sourceIdentity !== undefined) ctx.set('aws:sourceidentity', [r.sourceIdentity]);
    for (const tag of r.tags) ctx.set(`aws:principaltag/${tag.Key.toLowerCase()}`, [tag.Value]);
    return ctx;
  }

  function roleDenies(session: Session, action: string, resource: string): string | undefined {
    const ctx = contextOf(session);
    for (const [policyName, text] of session.role.policies) {
      for (const statement of parsePolicy(text)) {
        if (statement.Effect === 'Deny' && statementApplies(statement, action, resource, ctx)) {
          return `an explicit deny in the role's inline policy ${policyName}`;
        }
      }
    }
    return undefined;
  }

  function authorizeSession(session: Session, action: string, resource: string): AuthorizationResult {
    const denied = roleDenies(session, action, resource);
    if (denied) return { allowed: false, reason: denied };
    if (!session.statements)
      return { allowed: true, reason: 'no session policy (role permissions are not modelled)' };
    const ctx = contextOf(session);
    if (session.statements.some((s) => s.Effect === 'Deny' && statementApplies(s, action, resource, ctx))) {
      return { allowed: false, reason: 'an explicit deny in the session policy' };
    }
    if (session.statements.some((s) => s.Effect === 'Allow' && statementApplies(s, action, resource, ctx))) {
      return { allowed: true, reason: 'allowed by the session policy' };
    }
    return { allowed: false, reason: 'no session policy allows it' };
  }

  /** GetCallerIdentity needs no permission on AWS; locally it is the "is this session still alive" probe. */
  function probeSession(session: Session): AuthorizationResult {
    const denied = roleDenies(session, 'sts:GetCallerIdentity', '*');
    if (denied) return { allowed: false, reason: denied };
    if (!session.statements) return { allowed: true, reason: 'no session policy' };
    const ctx = contextOf(session);
    if (session.statements.some((s) => s.Effect === 'Allow' && conditionsHold(s.Condition, ctx))) {
      return { allowed: true, reason: 'the session policy still applies' };
    }
    return { allowed: false, reason: 'no statement of the session policy applies any more' };
  }

  function accessDenied(session: Session, action: string, reason: string): StsApiError {
    return new StsApiError(
      'AccessDenied',
      403,
      `User: ${session.record.arn} is not authorized to perform: ${action} because of ${reason}`,
    );
  }

  function authenticate(req: IncomingMessage, body: Buffer, service: string): Caller {
    const auth = parseAuthorization(req.headers.authorization);
    if (!auth) {
      throw new StsApiError('MissingAuthenticationToken', 403, 'Request is missing Authentication Token');
    }
    const session = sessions.get(auth.accessKeyId);
    if (!session) {
      // A key that claims to be one of ours but is not: refuse. Others may only be shape-checked.
      if (auth.accessKeyId.startsWith('ASIA')) {
        throw new StsApiError(
          'InvalidClientTokenId',
          403,
          'The security token included in the request is invalid.',
        );
      }
      return { kind: 'external', accessKeyId: auth.accessKeyId };
    }
    if (!constantTimeEqual(String(req.headers['x-amz-security-token'] ?? ''), session.token)) {
      throw new StsApiError(
        'InvalidClientTokenId',
        403,
        'The security token included in the request is invalid.',
      );
    }
    if (now().getTime() >= session.expiresAtMs) {
      throw new StsApiError('ExpiredToken', 403, 'The security token included in the request is expired');
    }
    verifySignature(req, body, auth, session.secret, service, now());
    return { kind: 'session', session };
  }

  function assumeRole(params: URLSearchParams, caller: Caller): string {
    const roleArn = required(params, 'RoleArn');
    const sessionName = required(params, 'RoleSessionName');
    if (sessionName.length < 2 || sessionName.length > 64 || !NAME_PATTERN.test(sessionName)) {
      throw validation(
        `1 validation error detected: Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length between 2 and 64`,
      );
    }
    const sourceIdentity = params.get('SourceIdentity') ?? undefined;
    if (
      sourceIdentity !== undefined &&
      (sourceIdentity.length < 2 || sourceIdentity.length > 64 || !NAME_PATTERN.test(sourceIdentity))
    ) {
      throw validation(
        `1 validation error detected: Value '${sourceIdentity}' at 'sourceIdentity' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length between 2 and 64`,
      );
    }
    const durationText = params.get('DurationSeconds');
    const durationSeconds = durationText === null ? 3600 : Number(durationText);
    if (!Number.isInteger(durationSeconds) || durationSeconds < 900 || durationSeconds > 43_200) {
      throw validation(
        `1 validation error detected: Value '${durationText}' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200`,
      );
    }
    if (durationSeconds > ROLE_CHAINING_MAX_SECONDS) {
      throw validation(
        'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.',
      );
    }
    const policy = params.get('Policy') ?? undefined;
    let statements: Statement[] | undefined;
    if (policy !== undefined) {
      if (policy.length < 1 || policy.length > SESSION_POLICY_LIMIT) {
        throw validation(
          `1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must have length less than or equal to ${SESSION_POLICY_LIMIT}`,
        );
      }
      statements = parsePolicy(policy, { requireResource: false });
    }
    const tags = readTags(params);
    const policyArns = readMembers(params, 'PolicyArns', 'arn');

    const match = ROLE_ARN.exec(roleArn);
    const role = match ? roles.get(match[2] as string) : undefined;
    if (caller.kind === 'session') {
      const verdict = authorizeSession(caller.session, 'sts:AssumeRole', roleArn);
      if (!verdict.allowed) throw accessDenied(caller.session, 'sts:AssumeRole', verdict.reason);
    }
    if (!role || role.arn !== roleArn) {
      const who =
        caller.kind === 'session'
          ? caller.session.record.arn
          : `arn:aws:sts::${account}:assumed-role/local-caller/local`;
      throw new StsApiError(
        'AccessDenied',
        403,
        `User: ${who} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`,
      );
    }

    const issuedAtMs = now().getTime();
    const expiresAtMs = issuedAtMs + durationSeconds * 1000;
    const accessKeyId = `ASIA${base32(16)}`;
    const record: StsSessionRecord = {
      roleArn,
      roleSessionName: sessionName,
      ...(sourceIdentity !== undefined ? { sourceIdentity } : {}),
      ...(policy !== undefined ? { policy } : {}),
      policyArns,
      durationSeconds,
      tags,
      accessKeyId,
      assumedRoleId: `${role.roleId}:${sessionName}`,
      arn: `arn:aws:sts::${role.account}:assumed-role/${role.name}/${sessionName}`,
      issuedAt: isoSeconds(issuedAtMs),
      expiration: isoSeconds(expiresAtMs),
    };
    const session: Session = {
      record,
      secret: randomBytes(30).toString('base64'),
      token: randomBytes(300).toString('base64'),
      role,
      issuedAtMs,
      expiresAtMs,
      ...(statements ? { statements } : {}),
    };
    sessions.set(accessKeyId, session);
    records.push(record);
    // A rough stand-in for AWS's packed size (policy and tags, as a percentage of the limit).
    const packed = Math.ceil(
      (((policy ? JSON.stringify(JSON.parse(policy)).length : 0) + JSON.stringify(tags).length / 4) /
        SESSION_POLICY_LIMIT) *
        100,
    );
    return [
      '<AssumeRoleResult>',
      sourceIdentity !== undefined ? el('SourceIdentity', sourceIdentity) : '',
      '<AssumedRoleUser>',
      el('AssumedRoleId', record.assumedRoleId),
      el('Arn', record.arn),
      '</AssumedRoleUser>',
      '<Credentials>',
      el('AccessKeyId', accessKeyId),
      el('SecretAccessKey', session.secret),
      el('SessionToken', session.token),
      el('Expiration', record.expiration),
      '</Credentials>',
      policy !== undefined ? el('PackedPolicySize', String(Math.min(packed, 100))) : '',
      '</AssumeRoleResult>',
    ].join('');
  }

  function getCallerIdentity(caller: Caller): string {
    if (caller.kind !== 'session') {
      throw new StsApiError(
        'InvalidClientTokenId',
        403,
        'The security token included in the request is invalid.',
      );
    }
    const { session } = caller;
    const verdict = probeSession(session);
    if (!verdict.allowed) throw accessDenied(session, 'sts:GetCallerIdentity', verdict.reason);
    return [
      '<GetCallerIdentityResult>',
      el('Arn', session.record.arn),
      el('UserId', session.record.assumedRoleId),
      el('Account', session.role.account),
      '</GetCallerIdentityResult>',
    ].join('');
  }

  function knownRole(params: URLSearchParams): Role {
    const name = required(params, 'RoleName');
    const role = roles.get(name);
    if (!role) throw new StsApiError('NoSuchEntity', 404, `The role with name ${name} cannot be found.`);
    return role;
  }

  /**
   * IAM calls signed by a session minted here also check what the session's role may do, modelled
   * for exactly what lib/aws/target-role.ts grants: IAM acts in the caller's own account (a role
   * elsewhere does not exist for it), and only a session of a `countersign-revoker` role may read
   * and write the inline policies of the other roles of its account. Other minted sessions may not
   * edit role policies at all. Callers this service cannot verify (the Lambda's own credentials)
   * keep reaching every role: they stand in for whatever the deployment granted.
   */
  function authorizeIam(caller: Caller, action: string, role: Role): void {
    if (caller.kind !== 'session') return;
    const { session } = caller;
    if (role.account !== session.role.account) {
      throw new StsApiError('NoSuchEntity', 404, `The role with name ${role.name} cannot be found.`);
    }
    const verdict = authorizeSession(session, action, role.arn);
    if (!verdict.allowed) throw accessDenied(session, action, verdict.reason);
    if (
      session.role.name !== REVOKER_ROLE_NAME ||
      role.name === REVOKER_ROLE_NAME ||
      !REVOKER_ACTIONS.has(action)
    ) {
      throw accessDenied(session, action, 'no identity-based policy of its role allows it');
    }
  }

  function putRolePolicy(params: URLSearchParams, caller: Caller): string {
    const role = knownRole(params);
    const policyName = required(params, 'PolicyName');
    if (policyName.length > 128 || !NAME_PATTERN.test(policyName)) {
      throw validation(`The specified value for policyName is invalid: ${policyName}`);
    }
    authorizeIam(caller, 'iam:PutRolePolicy', role);
    const document = required(params, 'PolicyDocument');
    parsePolicy(document, { requireResource: true });
    const sizes = [...role.policies]
      .filter(([name]) => name !== policyName)
      .map(([, text]) => packedLength(text));
    if (sizes.reduce((a, b) => a + b, packedLength(document)) > ROLE_INLINE_POLICY_LIMIT) {
      throw new StsApiError(
        'LimitExceeded',
        409,
        `Maximum policy size of ${ROLE_INLINE_POLICY_LIMIT} bytes exceeded for role ${role.name}`,
      );
    }
    role.policies.set(policyName, document);
    return '';
  }

  function getRolePolicy(params: URLSearchParams, caller: Caller): string {
    const role = knownRole(params);
    const policyName = required(params, 'PolicyName');
    authorizeIam(caller, 'iam:GetRolePolicy', role);
    const document = role.policies.get(policyName);
    if (document === undefined) {
      throw new StsApiError('NoSuchEntity', 404, `The role policy with name ${policyName} cannot be found.`);
    }
    return [
      '<GetRolePolicyResult>',
      el('PolicyName', policyName),
      el('RoleName', role.name),
      // IAM returns policy documents URL-encoded (RFC 3986); callers must decode.
      el('PolicyDocument', encodeURIComponent(document)),
      '</GetRolePolicyResult>',
    ].join('');
  }

  function deleteRolePolicy(params: URLSearchParams, caller: Caller): string {
    const role = knownRole(params);
    const policyName = required(params, 'PolicyName');
    authorizeIam(caller, 'iam:DeleteRolePolicy', role);
    if (!role.policies.delete(policyName)) {
      throw new StsApiError('NoSuchEntity', 404, `The role policy with name ${policyName} cannot be found.`);
    }
    return '';
  }

  function listRolePolicies(params: URLSearchParams, caller: Caller): string {
    const role = knownRole(params);
    authorizeIam(caller, 'iam:ListRolePolicies', role);
    const members = [...role.policies.keys()].sort().map((name) => el('member', name));
    return `<ListRolePoliciesResult><PolicyNames>${members.join('')}</PolicyNames><IsTruncated>false</IsTruncated></ListRolePoliciesResult>`;
  }

  const operations: Record<
    string,
    { version: string; service: string; run: (params: URLSearchParams, caller: Caller) => string }
  > = {
    AssumeRole: { version: STS_VERSION, service: 'sts', run: assumeRole },
    GetCallerIdentity: {
      version: STS_VERSION,
      service: 'sts',
      run: (_params, caller) => getCallerIdentity(caller),
    },
    PutRolePolicy: { version: IAM_VERSION, service: 'iam', run: putRolePolicy },
    GetRolePolicy: { version: IAM_VERSION, service: 'iam', run: getRolePolicy },
    DeleteRolePolicy: { version: IAM_VERSION, service: 'iam', run: deleteRolePolicy },
    ListRolePolicies: { version: IAM_VERSION, service: 'iam', run: listRolePolicies },
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    let version = STS_VERSION;
    const fail = (error: StsApiError) => {
      const ns = NAMESPACES[version] ?? NAMESPACES[STS_VERSION];
      sendXml(
        res,
        error.status,
        `<ErrorResponse xmlns="${ns}"><Error><Type>${error.status >= 500 ? 'Receiver' : 'Sender'}</Type>${el('Code', error.code)}${el('Message', error.message)}</Error>${el('RequestId', requestId)}</ErrorResponse>`,
      );
    };
    try {
      if (req.method !== 'POST') {
        req.resume();
        throw new StsApiError(
          'InvalidAction',
          400,
          'Only POST with a form-encoded body is supported locally',
        );
      }
      const body = await readBody(req, 256 * 1024);
      if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
        throw new StsApiError('InvalidAction', 400, 'The body must be application/x-www-form-urlencoded');
      }
      const params = new URLSearchParams(body.toString('utf8'));
      const action = params.get('Action') ?? '';
      version = params.get('Version') ?? STS_VERSION;
      const operation = Object.hasOwn(operations, action) ? operations[action] : undefined;
      if (!operation || operation.version !== version) {
        throw new StsApiError(
          'InvalidAction',
          400,
          `Could not find operation ${action} for version ${version}`,
        );
      }
      const caller = authenticate(req, body, operation.service);
      const result = operation.run(params, caller);
      sendXml(
        res,
        200,
        `<${action}Response xmlns="${NAMESPACES[version]}">${result}<ResponseMetadata>${el('RequestId', requestId)}</ResponseMetadata></${action}Response>`,
      );
    } catch (error) {
      if (error instanceof StsApiError) return fail(error);
      if (error instanceof BodyTooLargeError)
        return fail(new StsApiError('RequestEntityTooLarge', 413, error.message));
      return fail(new StsApiError('InternalFailure', 500, 'internal error'));
    }
  }

  return {
    handle,
    sessions: () =>
      records.map((r) => ({ ...r, policyArns: [...r.policyArns], tags: r.tags.map((t) => ({ ...t })) })),
    authorize(accessKeyId, action, resource) {
      const session = sessions.get(accessKeyId);
      if (!session) return { allowed: false, reason: 'unknown access key id' };
      if (now().getTime() >= session.expiresAtMs)
        return { allowed: false, reason: 'the session has expired' };
      return authorizeSession(session, action, resource);
    },
    rolePolicies(roleName) {
      return Object.fromEntries(roles.get(roleName)?.policies ?? []);
    },
    async stop() {
      sessions.clear();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Query protocol helpers

function el(name: string, value: string): string {
  return `<${name}>${xmlEscape(value)}</${name}>`;
}

function required(params: URLSearchParams, name: string): string {
  const value = params.get(name);
  if (value === null || value === '') {
    throw validation(
      `1 validation error detected: Value null at '${name}' failed to satisfy constraint: Member must not be null`,
    );
  }
  return value;
}

/** `Prefix.member.N.Field` lists, in N order. */
function readMembers(params: URLSearchParams, prefix: string, field: string): string[] {
  const out: string[] = [];
  for (let i = 1; ; i++) {
    const value = params.get(`${prefix}.member.${i}.${field}`);
    if (value === null) return out;
    out.push(value);
  }
}

function readTags(params: URLSearchParams): Array<{ Key: string; Value: string }> {
  const tags: Array<{ Key: string; Value: string }> = [];
  const seen = new Set<string>();
  for (let i = 1; ; i++) {
    const key = params.get(`Tags.member.${i}.Key`);
    if (key === null) break;
    const value = params.get(`Tags.member.${i}.Value`) ?? '';
    if (key.length < 1 || key.length > 128 || !/^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$/u.test(key)) {
      throw validation(
        `1 validation error detected: Value '${key}' at 'tags.${i}.member.key' failed to satisfy constraint`,
      );
    }
    if (value.length > 256 || !/^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u.test(value)) {
      throw validation(
        `1 validation error detected: Value at 'tags.${i}.member.value' failed to satisfy constraint`,
      );
    }
    // STS tag keys are case-insensitive: two spellings of one key are a conflict.
    if (seen.has(key.toLowerCase())) throw validation(`Duplicate tag keys found: ${key}`);
    seen.add(key.toLowerCase());
    tags.push({ Key: key, Value: value });
  }
  if (tags.length > 50) {
    throw validation(
      "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50",
    );
  }
  return tags;
}

function base32(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const byte of bytes) out += BASE32[byte & 31];
  return out;
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// ---------------------------------------------------------------------------------------------
// SigV4 verification: the local AWS endpoint's verifier, its errors spelled as this service's.

function verifySignature(
  req: IncomingMessage,
  body: Buffer,
  auth: ParsedAuthorization,
  secret: string,
  service: string,
  now: Date,
): void {
  try {
    verifySigV4(req, body, auth, secret, now, service);
  } catch (error) {
    if (error instanceof SignatureError) throw new StsApiError('SignatureDoesNotMatch', 403, error.message);
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// A small IAM policy evaluator: what revocation and session policies use, refusing anything else

type ConditionBlock = Record<string, Record<string, unknown>>;

interface Statement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string[];
  readonly NotAction?: string[];
  readonly Resource?: string[];
  readonly NotResource?: string[];
  readonly Condition?: ConditionBlock;
}

const STRING_OPERATORS = [
  'StringEquals',
  'StringNotEquals',
  'StringEqualsIgnoreCase',
  'StringNotEqualsIgnoreCase',
  'StringLike',
  'StringNotLike',
];
const DATE_OPERATORS = [
  'DateEquals',
  'DateNotEquals',
  'DateLessThan',
  'DateLessThanEquals',
  'DateGreaterThan',
  'DateGreaterThanEquals',
];
const SUPPORTED_OPERATORS = new Set([...STRING_OPERATORS, ...DATE_OPERATORS]);

/** Parses and checks a policy document; throws MalformedPolicyDocument as IAM/STS would. */
function parsePolicy(text: string, options: { requireResource?: boolean } = {}): Statement[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw malformed('Syntax errors in policy.');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw malformed('Syntax errors in policy.');
  const { Version, Statement: raw } = doc as { Version?: unknown; Statement?: unknown };
  if (Version !== undefined && Version !== '2012-10-17' && Version !== '2008-10-17') {
    throw malformed('The policy must contain a valid version string');
  }
  const list = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  if (list.length === 0) throw malformed('Policy statement must contain at least one statement.');
  return list.map((s) => {
    if (typeof s !== 'object' || s === null) throw malformed('Syntax errors in policy.');
    const st = s as Record<string, unknown>;
    if (st.Effect !== 'Allow' && st.Effect !== 'Deny')
      throw malformed('Policy statement must contain a valid Effect.');
    if ((st.Action === undefined) === (st.NotAction === undefined)) {
      throw malformed('Policy statement must contain exactly one of Action or NotAction.');
    }
    if (options.requireResource && st.Resource === undefined && st.NotResource === undefined) {
      throw malformed('Policy statement must contain resources.');
    }
    const condition = st.Condition;
    if (condition !== undefined) {
      if (typeof condition !== 'object' || condition === null) throw malformed('Syntax errors in policy.');
      for (const [operator, block] of Object.entries(condition)) {
        if (!SUPPORTED_OPERATORS.has(operator.replace(/IfExists$/, ''))) {
          // Fail loud: silently ignoring a condition could only ever widen access.
          throw malformed(`Condition operator ${operator} is not supported by the local STS/IAM.`);
        }
        if (typeof block !== 'object' || block === null) throw malformed('Syntax errors in policy.');
      }
    }
    const strings = (value: unknown, field: string): string[] | undefined => {
      if (value === undefined) return undefined;
      const arr = Array.isArray(value) ? value : [value];
      if (!arr.every((v) => typeof v === 'string'))
        throw malformed(`${field} must be a string or a list of strings.`);
      return arr as string[];
    };
    const out: Statement = {
      Effect: st.Effect,
      ...(typeof st.Sid === 'string' ? { Sid: st.Sid } : {}),
      ...(st.Action !== undefined ? { Action: strings(st.Action, 'Action') } : {}),
      ...(st.NotAction !== undefined ? { NotAction: strings(st.NotAction, 'NotAction') } : {}),
      ...(st.Resource !== undefined ? { Resource: strings(st.Resource, 'Resource') } : {}),
      ...(st.NotResource !== undefined ? { NotResource: strings(st.NotResource, 'NotResource') } : {}),
      ...(condition !== undefined ? { Condition: condition as ConditionBlock } : {}),
    };
    return out;
  });
}

function packedLength(text: string): number {
  return JSON.stringify(JSON.parse(text)).length;
}

function globToRegExp(pattern: string, flags = ''): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, `s${flags}`);
}

function statementApplies(
  st: Statement,
  action: string,
  resource: string,
  ctx: Map<string, string[]>,
): boolean {
  const actionMatch = (patterns: string[]) => patterns.some((p) => globToRegExp(p, 'i').test(action));
  const resourceMatch = (patterns: string[]) => patterns.some((p) => globToRegExp(p).test(resource));
  if (st.Action && !actionMatch(st.Action)) return false;
  if (st.NotAction && actionMatch(st.NotAction)) return false;
  if (st.Resource && !resourceMatch(st.Resource)) return false;
  if (st.NotResource && resourceMatch(st.NotResource)) return false;
  return conditionsHold(st.Condition, ctx);
}

/** Operators AND together, keys within an operator AND together, values of a key OR together. */
function conditionsHold(condition: ConditionBlock | undefined, ctx: Map<string, string[]>): boolean {
  if (!condition) return true;
  for (const [rawOperator, block] of Object.entries(condition)) {
    const ifExists = rawOperator.endsWith('IfExists');
    const operator = ifExists ? rawOperator.slice(0, -'IfExists'.length) : rawOperator;
    const negated = operator.includes('Not');
    for (const [key, expected] of Object.entries(block)) {
      const wanted = (Array.isArray(expected) ? expected : [expected]).map(String);
      const actual = ctx.get(key.toLowerCase());
      if (actual === undefined) {
        // A missing key fails positive operators and satisfies negated ones (and ...IfExists).
        if (ifExists || negated) continue;
        return false;
      }
      const anyMatch = actual.some((a) => wanted.some((w) => compare(operator, a, w)));
      if (negated ? anyMatch : !anyMatch) return false;
    }
  }
  return true;
}

function compare(operator: string, actual: string, wanted: string): boolean {
  switch (operator) {
    case 'StringEquals':
    case 'StringNotEquals':
      return actual === wanted;
    case 'StringEqualsIgnoreCase':
    case 'StringNotEqualsIgnoreCase':
      return actual.toLowerCase() === wanted.toLowerCase();
    case 'StringLike':
    case 'StringNotLike':
      return globToRegExp(wanted).test(actual);
  }
  const a = parseDate(actual);
  const w = parseDate(wanted);
  if (a === undefined || w === undefined) return false;
  switch (operator) {
    case 'DateEquals':
    case 'DateNotEquals':
      return a === w;
    case 'DateLessThan':
      return a < w;
    case 'DateLessThanEquals':
      return a <= w;
    case 'DateGreaterThan':
      return a > w;
    case 'DateGreaterThanEquals':
      return a >= w;
  }
  return false;
}

function parseDate(value: string): number | undefined {
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}
