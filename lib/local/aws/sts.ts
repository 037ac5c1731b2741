import { NAME_PATTERN, parsePolicyDocument } from './iam.js';
import { type ParsedPolicy, statementsAllow } from './iam-policy.js';
import type { Principal, Role } from './principals.js';
import { ROLE_ARN } from './principals.js';
import {
  type Authorization,
  AwsError,
  type AwsService,
  type CallContext,
  el,
  type ParsedCall,
  queryAnswer,
  queryMembers,
  queryParams,
  queryProtocol,
  requiredParam,
  type ServiceEnvironment,
} from './service.js';

/**
 * STS over the Query protocol: AssumeRole (trust policy honoured, session policies, source identity,
 * session tags, role chaining capped at one hour) and GetCallerIdentity (which, as on AWS, needs no
 * permission).
 */

const XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/';
/** STS limit on the plaintext of an inline session policy. */
const SESSION_POLICY_LIMIT = 2048;
/** Every caller here is a role session, so every AssumeRole is role chaining: one hour at most. */
const ROLE_CHAINING_MAX_SECONDS = 3600;
const TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

const validation = (message: string) => new AwsError('ValidationError', 400, message);

interface AssumeRoleInput {
  readonly roleArn: string;
  readonly sessionName: string;
  readonly durationSeconds: number;
  readonly sourceIdentity?: string;
  readonly policy?: string;
  readonly policyArns: string[];
  readonly tags: Array<{ Key: string; Value: string }>;
}

export function createStsService(
  env: ServiceEnvironment,
  managedPolicies: ReadonlyMap<string, ParsedPolicy>,
): AwsService {
  function parseAssumeRole(params: URLSearchParams): AssumeRoleInput {
    const roleArn = requiredParam(params, 'RoleArn');
    const sessionName = requiredParam(params, 'RoleSessionName');
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
    if (policy !== undefined && (policy.length < 1 || policy.length > SESSION_POLICY_LIMIT)) {
      throw validation(
        `1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must have length less than or equal to ${SESSION_POLICY_LIMIT}`,
      );
    }
    const policyArns = queryMembers(params, 'PolicyArns', 'arn');
    if (policyArns.length > 10) throw validation('The PolicyArns list may hold at most 10 ARNs.');
    return {
      roleArn,
      sessionName,
      durationSeconds,
      policyArns,
      tags: readTags(params),
      ...(sourceIdentity !== undefined ? { sourceIdentity } : {}),
      ...(policy !== undefined ? { policy } : {}),
    };
  }

  /** Does the role's trust policy let `caller` do `action` (AssumeRole, SetSourceIdentity, TagSession)? */
  function trusts(
    role: Role,
    caller: Principal,
    action: string,
    ctx: CallContext,
    input: AssumeRoleInput,
  ): boolean {
    if (!role.trust) return false;
    const callerNames = new Set([
      caller.role.arn,
      caller.arn,
      `arn:aws:iam::${caller.role.account}:root`,
      caller.role.account,
      '*',
    ]);
    const statements = role.trust.statements.filter((s) => {
      if (s.NotPrincipal !== undefined) return false; // not modelled: never widens
      if (s.Principal === '*') return true;
      const aws =
        typeof s.Principal === 'object' && s.Principal !== null
          ? (s.Principal as Record<string, unknown>).AWS
          : undefined;
      const list = Array.isArray(aws) ? aws : aws === undefined ? [] : [aws];
      return list.some((p) => typeof p === 'string' && callerNames.has(p));
    });
    const context = new Map(ctx.context);
    context.set('sts:rolesessionname', [input.sessionName]);
    if (input.sourceIdentity !== undefined) context.set('sts:sourceidentity', [input.sourceIdentity]);
    for (const tag of input.tags) context.set(`aws:requesttag/${tag.Key.toLowerCase()}`, [tag.Value]);
    if (input.tags.length > 0)
      context.set(
        'aws:tagkeys',
        input.tags.map((t) => t.Key),
      );
    // Denies anywhere in the trust policy apply whoever they name.
    const denies = role.trust.statements.filter((s) => s.Effect === 'Deny');
    return (
      statementsAllow(
        { ...role.trust, statements: [...denies, ...statements.filter((s) => s.Effect === 'Allow')] },
        action,
        role.arn,
        context,
      ) === true
    );
  }

  function sessionPoliciesOf(input: AssumeRoleInput): ParsedPolicy[] | undefined {
    if (input.policy === undefined && input.policyArns.length === 0) return undefined;
    const out: ParsedPolicy[] = [];
    if (input.policy !== undefined) {
      out.push(parsePolicyDocument('session', input.policy));
    }
    for (const arn of input.policyArns) {
      const managed = managedPolicies.get(arn);
      if (!managed)
        throw new AwsError(
          'MalformedPolicyDocument',
          400,
          `The policy ${arn} does not exist in the local AWS.`,
        );
      out.push({ ...managed, name: `session:${arn}` });
    }
    return out;
  }

  function assumeRole(input: AssumeRoleInput, ctx: CallContext) {
    const caller = ctx.caller;
    const role = env.principals.roleByArn(input.roleArn);
    const refuse = () =>
      new AwsError(
        'AccessDenied',
        403,
        `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${input.roleArn}`,
      );
    if (!role || !trusts(role, caller, 'sts:AssumeRole', ctx, input)) throw refuse();
    if (input.sourceIdentity !== undefined && !trusts(role, caller, 'sts:SetSourceIdentity', ctx, input)) {
      throw new AwsError(
        'AccessDenied',
        403,
        `User: ${caller.arn} is not authorized to perform: sts:SetSourceIdentity on resource: ${input.roleArn}`,
      );
    }
    if (input.tags.length > 0 && !trusts(role, caller, 'sts:TagSession', ctx, input)) {
      throw new AwsError(
        'AccessDenied',
        403,
        `User: ${caller.arn} is not authorized to perform: sts:TagSession on resource: ${input.roleArn}`,
      );
    }
    // A source identity, once set, stays with every chained session and cannot be changed.
    if (
      caller.sourceIdentity !== undefined &&
      input.sourceIdentity !== undefined &&
      input.sourceIdentity !== caller.sourceIdentity
    ) {
      throw new AwsError('AccessDenied', 403, 'The source identity of a chained session cannot be changed.');
    }
    const sourceIdentity = caller.sourceIdentity ?? input.sourceIdentity;
    const sessionPolicies = sessionPoliciesOf(input);
    // AWS reports the packed size of policy and tags as a percentage of its limit.
    const packed = Math.ceil(
      (((input.policy ? JSON.stringify(JSON.parse(input.policy)).length : 0) +
        JSON.stringify(input.tags).length / 4) /
        SESSION_POLICY_LIMIT) *
        100,
    );
    if (packed > 100) {
      throw new AwsError(
        'PackedPolicyTooLarge',
        400,
        `Packed policy consumes ${packed}% of allotted space, please use smaller policy.`,
      );
    }
    const session = env.principals.mint(role, input.sessionName, input.durationSeconds, ctx.now, {
      assumed: true,
      tags: input.tags,
      policyArns: input.policyArns,
      ...(sourceIdentity !== undefined ? { sourceIdentity } : {}),
      ...(input.policy !== undefined ? { policy: input.policy } : {}),
      ...(sessionPolicies ? { sessionPolicies } : {}),
    });
    const result = [
      '<AssumeRoleResult>',
      sourceIdentity !== undefined ? el('SourceIdentity', sourceIdentity) : '',
      '<AssumedRoleUser>',
      el('AssumedRoleId', session.userId),
      el('Arn', session.arn),
      '</AssumedRoleUser>',
      '<Credentials>',
      el('AccessKeyId', session.accessKeyId),
      el('SecretAccessKey', session.secretAccessKey),
      el('SessionToken', session.sessionToken),
      el('Expiration', session.record.expiration),
      '</Credentials>',
      input.policy !== undefined || input.tags.length > 0 ? el('PackedPolicySize', String(packed)) : '',
      '</AssumeRoleResult>',
    ].join('');
    return queryAnswer('AssumeRole', XMLNS, result, ctx.requestId, assumeRoleResponseElements(session));
  }

  return {
    ...queryProtocol('sts', XMLNS),
    parse(request): ParsedCall {
      const params = queryParams(request);
      const action = params.get('Action') ?? '';
      const version = params.get('Version');
      if (version !== '2011-06-15')
        throw new AwsError('InvalidAction', 400, `Could not find operation ${action} for version ${version}`);
      if (action === 'GetCallerIdentity') {
        return {
          operation: action,
          authorizations: [],
          requestParameters: null,
          readOnly: true,
          managementEvent: true,
          input: null,
        };
      }
      if (action !== 'AssumeRole')
        throw new AwsError('InvalidAction', 400, `Could not find operation ${action} for version ${version}`);
      const input = parseAssumeRole(params);
      const authorizations: Authorization[] = [{ action: 'sts:AssumeRole', resource: input.roleArn }];
      if (input.sourceIdentity !== undefined)
        authorizations.push({ action: 'sts:SetSourceIdentity', resource: input.roleArn });
      if (input.tags.length > 0) authorizations.push({ action: 'sts:TagSession', resource: input.roleArn });
      const match = ROLE_ARN.exec(input.roleArn);
      return {
        operation: action,
        authorizations,
        requestParameters: {
          roleArn: input.roleArn,
          roleSessionName: input.sessionName,
          durationSeconds: input.durationSeconds,
          ...(input.sourceIdentity !== undefined ? { sourceIdentity: input.sourceIdentity } : {}),
          ...(input.policy !== undefined ? { policy: input.policy } : {}),
          ...(input.policyArns.length > 0 ? { policyArns: input.policyArns.map((arn) => ({ arn })) } : {}),
          ...(input.tags.length > 0 ? { tags: input.tags.map((t) => ({ key: t.Key, value: t.Value })) } : {}),
        },
        readOnly: true,
        managementEvent: true,
        ...(match ? { resources: [{ type: 'AWS::IAM::Role', ARN: input.roleArn }] } : {}),
        input,
      };
    },
    async serve(call, ctx) {
      if (call.operation === 'GetCallerIdentity') {
        const caller = ctx.caller;
        return queryAnswer(
          'GetCallerIdentity',
          XMLNS,
          `<GetCallerIdentityResult>${el('Arn', caller.arn)}${el('UserId', caller.userId)}${el('Account', caller.role.account)}</GetCallerIdentityResult>`,
          ctx.requestId,
        );
      }
      return assumeRole(call.input as AssumeRoleInput, ctx);
    },
  };
}

/** CloudTrail's responseElements of an AssumeRole: the key id and expiry, never the secret or token. */
export function assumeRoleResponseElements(session: Principal): Record<string, unknown> {
  return {
    credentials: { accessKeyId: session.accessKeyId, expiration: session.record.expiration },
    assumedRoleUser: { assumedRoleId: session.userId, arn: session.arn },
    ...(session.sourceIdentity !== undefined ? { sourceIdentity: session.sourceIdentity } : {}),
  };
}

function readTags(params: URLSearchParams): Array<{ Key: string; Value: string }> {
  const tags: Array<{ Key: string; Value: string }> = [];
  const seen = new Set<string>();
  for (let i = 1; ; i++) {
    const key = params.get(`Tags.member.${i}.Key`);
    if (key === null) break;
    const value = params.get(`Tags.member.${i}.Value`) ?? '';
    if (key.length < 1 || key.length > 128 || !TAG_TEXT.test(key)) {
      throw validation(
        `1 validation error detected: Value '${key}' at 'tags.${i}.member.key' failed to satisfy constraint`,
      );
    }
    if (value.length > 256 || !TAG_TEXT.test(value)) {
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
