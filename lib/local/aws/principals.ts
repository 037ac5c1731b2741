import { randomBytes } from 'node:crypto';
import {
  type Decision,
  evaluate,
  type ParsedPolicy,
  parsePolicy,
  type RequestContext,
} from './iam-policy.js';

/**
 * Who may call the local AWS: roles (with their trust, inline and managed policies) and the
 * sessions minted for them — by `issueRoleSession` (Lambda's credentials for an execution role) or
 * by AssumeRole. Secrets and tokens live only in this process's memory.
 */

/** One session, as recorded. Never the secret access key or the session token. */
export interface StsSessionRecord {
  readonly roleArn: string;
  readonly roleSessionName: string;
  readonly sourceIdentity?: string;
  readonly policy?: string;
  readonly policyArns: string[];
  readonly durationSeconds: number;
  readonly tags: Array<{ Key: string; Value: string }>;
  readonly accessKeyId: string;
  readonly assumedRoleId: string;
  readonly arn: string;
  readonly issuedAt: string;
  readonly expiration: string;
}

export const ROLE_ARN = /^arn:aws:iam::(\d{12}):role\/(?:[\x21-\x7e]*\/)?([\w+=,.@-]{1,64})$/;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export interface Role {
  readonly arn: string;
  readonly account: string;
  readonly name: string;
  /** `AROA…`: the role's unique id, the first half of `aws:userid`. */
  readonly roleId: string;
  /** Inline policies as stored (JSON text), by name. */
  readonly inline: Map<string, string>;
  readonly managed: ParsedPolicy[];
  readonly trust?: ParsedPolicy;
}

export interface Principal {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly role: Role;
  readonly sessionName: string;
  /** `arn:aws:sts::ACCT:assumed-role/NAME/session`. */
  readonly arn: string;
  /** `AROA…:session`: aws:userid and CloudTrail's principalId. */
  readonly userId: string;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  readonly sourceIdentity?: string;
  readonly tags: ReadonlyArray<{ Key: string; Value: string }>;
  /** Present when minted with Policy and/or PolicyArns. */
  readonly sessionPolicies?: readonly ParsedPolicy[];
  /** Minted by AssumeRole (true) or issued as a Lambda execution role's credentials (false). */
  readonly assumed: boolean;
  readonly record: StsSessionRecord;
}

function base32(length: number): string {
  let out = '';
  for (const byte of randomBytes(length)) out += BASE32[byte & 31];
  return out;
}

export function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export class Principals {
  private readonly roles = new Map<string, Role>();
  private readonly keys = new Map<string, Principal>();
  private readonly records: StsSessionRecord[] = [];
  /** Parsed inline documents by their text: policies change rarely, calls are many. */
  private readonly parsed = new Map<string, ParsedPolicy>();

  createRole(
    arn: string,
    policies: { inline?: Record<string, object>; managed?: object[]; trust?: object },
  ): Role {
    const match = ROLE_ARN.exec(arn);
    if (!match) throw new Error(`createRole: not a role ARN: ${arn}`);
    const [, account, name] = match as unknown as [string, string, string];
    const existing = this.roles.get(`${account}/${name.toLowerCase()}`);
    const inline = new Map<string, string>();
    for (const [policyName, doc] of Object.entries(policies.inline ?? {})) {
      parsePolicy(`inline:${policyName}`, doc); // refuse a malformed document now, loudly
      inline.set(policyName, JSON.stringify(doc));
    }
    const role: Role = {
      arn,
      account,
      name,
      roleId: existing?.roleId ?? `AROA${base32(17)}`,
      inline,
      managed: (policies.managed ?? []).map((doc, i) => parsePolicy(`managed:${i}`, doc)),
      ...(policies.trust ? { trust: parsePolicy('trust', policies.trust) } : {}),
    };
    // IAM role names are unique per account, case-insensitively.
    this.roles.set(`${account}/${name.toLowerCase()}`, role);
    return role;
  }

  role(account: string, name: string): Role | undefined {
    return this.roles.get(`${account}/${name.toLowerCase()}`);
  }

  roleByArn(arn: string): Role | undefined {
    const match = ROLE_ARN.exec(arn);
    if (!match) return undefined;
    const role = this.role(match[1] as string, match[2] as string);
    return role?.arn === arn ? role : undefined;
  }

  mint(
    role: Role,
    sessionName: string,
    durationSeconds: number,
    now: Date,
    extra: {
      assumed: boolean;
      sourceIdentity?: string;
      tags?: Array<{ Key: string; Value: string }>;
      policy?: string;
      policyArns?: string[];
      sessionPolicies?: ParsedPolicy[];
    },
  ): Principal {
    const accessKeyId = `ASIA${base32(16)}`;
    const expiresAt = new Date(now.getTime() + durationSeconds * 1000);
    const userId = `${role.roleId}:${sessionName}`;
    const arn = `arn:aws:sts::${role.account}:assumed-role/${role.name}/${sessionName}`;
    const record: StsSessionRecord = {
      roleArn: role.arn,
      roleSessionName: sessionName,
      ...(extra.sourceIdentity !== undefined ? { sourceIdentity: extra.sourceIdentity } : {}),
      ...(extra.policy !== undefined ? { policy: extra.policy } : {}),
      policyArns: [...(extra.policyArns ?? [])],
      durationSeconds,
      tags: (extra.tags ?? []).map((t) => ({ ...t })),
      accessKeyId,
      assumedRoleId: userId,
      arn,
      issuedAt: isoSeconds(now),
      expiration: isoSeconds(expiresAt),
    };
    const principal: Principal = {
      accessKeyId,
      secretAccessKey: randomBytes(30).toString('base64'),
      sessionToken: randomBytes(300).toString('base64'),
      role,
      sessionName,
      arn,
      userId,
      issuedAt: now,
      expiresAt,
      tags: record.tags,
      assumed: extra.assumed,
      record,
      ...(extra.sourceIdentity !== undefined ? { sourceIdentity: extra.sourceIdentity } : {}),
      ...(extra.sessionPolicies ? { sessionPolicies: extra.sessionPolicies } : {}),
    };
    this.keys.set(accessKeyId, principal);
    this.records.push(record);
    return principal;
  }

  byAccessKey(accessKeyId: string): Principal | undefined {
    return this.keys.get(accessKeyId);
  }

  sessions(): StsSessionRecord[] {
    return this.records.map((r) => ({
      ...r,
      policyArns: [...r.policyArns],
      tags: r.tags.map((t) => ({ ...t })),
    }));
  }

  /** The role's identity-based policies as they are now (a revocation written a moment ago applies). */
  identityPolicies(role: Role): ParsedPolicy[] {
    const inline = [...role.inline].map(([name, text]) => {
      const key = `${name}\u0000${text}`;
      let policy = this.parsed.get(key);
      if (!policy) {
        if (this.parsed.size > 1000) this.parsed.clear();
        policy = parsePolicy(`inline:${name}`, text);
        this.parsed.set(key, policy);
      }
      return policy;
    });
    return [...inline, ...role.managed];
  }

  /** The caller's request context (keys lower case). */
  contextOf(
    principal: Principal,
    now: Date,
    region: string,
    extra?: ReadonlyMap<string, readonly string[]>,
  ): RequestContext {
    const ctx = new Map<string, readonly string[]>([
      ['aws:currenttime', [now.toISOString()]],
      ['aws:epochtime', [String(Math.floor(now.getTime() / 1000))]],
      ['aws:userid', [principal.userId]],
      ['aws:principalarn', [principal.role.arn]],
      ['aws:principalaccount', [principal.role.account]],
      ['aws:principaltype', ['AssumedRole']],
      ['aws:principalisawsservice', ['false']],
      ['aws:viaawsservice', ['false']],
      ['aws:requestedregion', [region]],
      ['aws:securetransport', ['false']],
      ['aws:sourceip', ['127.0.0.1']],
      ['aws:tokenissuetime', [principal.issuedAt.toISOString()]],
    ]);
    if (principal.sourceIdentity !== undefined) ctx.set('aws:sourceidentity', [principal.sourceIdentity]);
    for (const tag of principal.tags) ctx.set(`aws:principaltag/${tag.Key.toLowerCase()}`, [tag.Value]);
    for (const [key, values] of extra ?? []) ctx.set(key.toLowerCase(), values);
    return ctx;
  }

  authorize(principal: Principal, action: string, resource: string, context: RequestContext): Decision {
    return evaluate({
      principalArn: principal.arn,
      action,
      resource,
      identityPolicies: this.identityPolicies(principal.role),
      ...(principal.sessionPolicies ? { sessionPolicies: principal.sessionPolicies } : {}),
      context,
    });
  }
}
