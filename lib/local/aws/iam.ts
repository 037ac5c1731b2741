import { MalformedPolicyError, type ParsedPolicy, packedLength, parsePolicy } from './iam-policy.js';
import type { Role } from './principals.js';
import {
  AwsError,
  type AwsService,
  type CallContext,
  el,
  type ParsedCall,
  queryAnswer,
  queryParams,
  queryProtocol,
  requiredParam,
  type ServiceEnvironment,
} from './service.js';

/**
 * IAM over the Query protocol, the role inline-policy operations revocation uses: GetRolePolicy,
 * PutRolePolicy, DeleteRolePolicy, ListRolePolicies. A session reaches the roles of its own account
 * only (IAM is per account), and a policy written here applies to live sessions at once.
 */

const XMLNS = 'https://iam.amazonaws.com/doc/2010-05-08/';
/** The characters IAM allows in role, policy and session names. */
export const NAME_PATTERN = /^[\w+=,.@-]+$/;
/** IAM limit on all inline policies of one role together (whitespace not counted). */
const ROLE_INLINE_POLICY_LIMIT = 10_240;
const OPERATIONS = new Set(['GetRolePolicy', 'PutRolePolicy', 'DeleteRolePolicy', 'ListRolePolicies']);

/** parsePolicy, refusing a malformed document as IAM and STS do (MalformedPolicyDocument). */
export function parsePolicyDocument(
  name: string,
  text: string,
  options?: Parameters<typeof parsePolicy>[2],
): ParsedPolicy {
  try {
    return parsePolicy(name, text, options);
  } catch (error) {
    if (error instanceof MalformedPolicyError)
      throw new AwsError('MalformedPolicyDocument', 400, error.message);
    throw error;
  }
}

interface IamInput {
  readonly roleName: string;
  readonly role?: Role;
  readonly policyName?: string;
  readonly policyDocument?: string;
}

export function createIamService(env: ServiceEnvironment): AwsService {
  function knownRole(input: IamInput): Role {
    if (!input.role)
      throw new AwsError('NoSuchEntity', 404, `The role with name ${input.roleName} cannot be found.`);
    return input.role;
  }

  function serve(operation: string, input: IamInput, ctx: CallContext) {
    const role = knownRole(input);
    const policyName = input.policyName as string;
    switch (operation) {
      case 'PutRolePolicy': {
        const document = input.policyDocument as string;
        parsePolicyDocument(`inline:${policyName}`, document, { requireResource: true });
        const others = [...role.inline]
          .filter(([name]) => name !== policyName)
          .map(([, text]) => packedLength(text));
        if (others.reduce((a, b) => a + b, packedLength(document)) > ROLE_INLINE_POLICY_LIMIT) {
          throw new AwsError(
            'LimitExceeded',
            409,
            `Maximum policy size of ${ROLE_INLINE_POLICY_LIMIT} bytes exceeded for role ${role.name}`,
          );
        }
        role.inline.set(policyName, document);
        return queryAnswer(operation, XMLNS, '', ctx.requestId);
      }
      case 'GetRolePolicy': {
        const document = role.inline.get(policyName);
        if (document === undefined)
          throw new AwsError('NoSuchEntity', 404, `The role policy with name ${policyName} cannot be found.`);
        // IAM returns policy documents URL-encoded (RFC 3986); callers decode.
        const result = `<GetRolePolicyResult>${el('PolicyName', policyName)}${el('RoleName', role.name)}${el('PolicyDocument', encodeURIComponent(document))}</GetRolePolicyResult>`;
        return queryAnswer(operation, XMLNS, result, ctx.requestId);
      }
      case 'DeleteRolePolicy': {
        if (!role.inline.delete(policyName)) {
          throw new AwsError('NoSuchEntity', 404, `The role policy with name ${policyName} cannot be found.`);
        }
        return queryAnswer(operation, XMLNS, '', ctx.requestId);
      }
      default: {
        const members = [...role.inline.keys()].sort().map((name) => el('member', name));
        const result = `<ListRolePoliciesResult><PolicyNames>${members.join('')}</PolicyNames><IsTruncated>false</IsTruncated></ListRolePoliciesResult>`;
        return queryAnswer(operation, XMLNS, result, ctx.requestId);
      }
    }
  }

  return {
    ...queryProtocol('iam', XMLNS),
    globalRegion: 'us-east-1',
    parse(request, ctx): ParsedCall {
      const params = queryParams(request);
      const operation = params.get('Action') ?? '';
      const version = params.get('Version');
      if (version !== '2010-05-08' || !OPERATIONS.has(operation)) {
        throw new AwsError(
          'InvalidAction',
          400,
          `Could not find operation ${operation} for version ${version}`,
        );
      }
      const roleName = requiredParam(params, 'RoleName');
      if (roleName.length > 64 || !NAME_PATTERN.test(roleName)) {
        throw new AwsError(
          'ValidationError',
          400,
          `The specified value for roleName is invalid: ${roleName}`,
        );
      }
      let policyName: string | undefined;
      if (operation !== 'ListRolePolicies') {
        policyName = requiredParam(params, 'PolicyName');
        if (policyName.length > 128 || !NAME_PATTERN.test(policyName)) {
          throw new AwsError(
            'ValidationError',
            400,
            `The specified value for policyName is invalid: ${policyName}`,
          );
        }
      }
      const policyDocument =
        operation === 'PutRolePolicy' ? requiredParam(params, 'PolicyDocument') : undefined;
      // IAM is per account: a session sees the roles of its own account only.
      const account = ctx.caller.role.account;
      const role = env.principals.role(account, roleName);
      const arn = role?.arn ?? `arn:aws:iam::${account}:role/${roleName}`;
      return {
        operation,
        authorizations: [{ action: `iam:${operation}`, resource: arn }],
        requestParameters: {
          roleName,
          ...(policyName !== undefined ? { policyName } : {}),
          ...(policyDocument !== undefined ? { policyDocument } : {}),
        },
        readOnly: operation.startsWith('Get') || operation.startsWith('List'),
        managementEvent: true,
        input: {
          roleName,
          ...(role ? { role } : {}),
          ...(policyName !== undefined ? { policyName } : {}),
          ...(policyDocument !== undefined ? { policyDocument } : {}),
        },
      };
    },
    async serve(call, ctx) {
      return serve(call.operation, call.input as IamInput, ctx);
    },
  };
}
