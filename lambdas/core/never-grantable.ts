import type { CountersignConfig } from './config.js';
import { globMatch } from './glob.js';
import type { PolicyOutcome } from './model.js';
import { evaluatePolicy, type PolicyInput } from './policy.js';

/**
 * What Countersign never grants, whatever the rules say (DESIGN.md §3). A grant is bounded by its
 * session policy, its `notAfter` and revocation; these are the requests whose effect would escape
 * those bounds, or would let the agent change Countersign itself. Each is `201 DENIED` with the
 * reason recorded (`policy.rule` `never-grantable` or `resource-alias`). docs/security.md carries
 * the same list with the same reasons; a test keeps them in step.
 *
 * Three parts:
 * 1. NEVER_GRANTABLE_ACTIONS: named actions (IAM-style patterns), each with its reason.
 * 2. Every action the IAM catalog files under the access level "Permissions management" (changing
 *    who may do what is, by definition, a change beyond the grant), except PERMISSIONS_EXCEPTIONS.
 * 3. Countersign's own resources: the target and revoker roles of the configuration, plus what the
 *    deployment reports about itself (table, state machine, functions, roles, secret, key) through
 *    `COUNTERSIGN_OWN_RESOURCES`. Any action on them is refused, reads included: the table holds
 *    task tokens, the secret the Slack signing key.
 * And resource aliases (RESOURCE_ALIASES): refused, because a rule about a bucket cannot be applied
 * to an alias whose bucket Countersign cannot see.
 */

export interface NeverGrantableEntry {
  /** IAM action patterns (`*`, `?`), matched case-insensitively as IAM does. */
  readonly actions: readonly string[];
  /** Why: shown to the agent and the reviewer, and listed in docs/security.md. */
  readonly reason: string;
}

export const NEVER_GRANTABLE_ACTIONS: readonly NeverGrantableEntry[] = [
  {
    actions: [
      'sts:AssumeRole',
      'sts:AssumeRoleWithSAML',
      'sts:AssumeRoleWithWebIdentity',
      'sts:AssumeRoot',
      'sts:GetFederationToken',
      'sts:GetSessionToken',
    ],
    reason:
      'mints new AWS credentials: a chained or federated session carries neither the grant’s session policy nor its notAfter, and revocation does not reach it',
  },
  {
    actions: ['sts:GetServiceBearerToken', 'sts:GetWebIdentityToken'],
    reason:
      'mints a bearer token other services accept on its own; it outlives the grant and revocation cannot reach it',
  },
  {
    actions: [
      'cognito-identity:GetCredentialsForIdentity',
      'cognito-identity:GetOpenIdTokenForDeveloperIdentity',
    ],
    reason: 'mints credentials or a token that can be exchanged for credentials outside the grant',
  },
  {
    actions: [
      'iam:CreateAccessKey',
      'iam:UpdateAccessKey',
      'iam:CreateLoginProfile',
      'iam:UpdateLoginProfile',
      'iam:CreateServiceSpecificCredential',
      'iam:UpdateServiceSpecificCredential',
      'iam:ResetServiceSpecificCredential',
      'iam:UploadSSHPublicKey',
      'iam:UpdateSSHPublicKey',
      'iam:UploadSigningCertificate',
      'iam:UpdateSigningCertificate',
    ],
    reason:
      'creates or re-activates a long-term credential (access key, console password, Git/SSH key, certificate) that outlives the grant',
  },
  {
    actions: [
      'iam:Put*Policy',
      'iam:Attach*Policy',
      'iam:CreatePolicyVersion',
      'iam:SetDefaultPolicyVersion',
      'iam:Put*PermissionsBoundary',
    ],
    reason: 'writes a permissions policy: the permissions it adds outlive the grant',
  },
  {
    actions: ['iam:Detach*Policy', 'iam:Delete*Policy', 'iam:Delete*PermissionsBoundary'],
    reason:
      'removes a policy or boundary: removing a Deny (such as Countersign’s own revocations) widens permissions just as adding an Allow does',
  },
  {
    actions: ['iam:PassRole'],
    reason: 'hands a role to a service, which then acts with that role’s permissions, not the grant’s',
  },
  {
    actions: ['iam:UpdateAssumeRolePolicy'],
    reason: 'changes who may assume a role: a new principal could mint sessions outside Countersign',
  },
  {
    actions: [
      'iam:CreateOpenIDConnectProvider',
      'iam:UpdateOpenIDConnectProviderThumbprint',
      'iam:AddClientIDToOpenIDConnectProvider',
      'iam:CreateSAMLProvider',
      'iam:UpdateSAMLProvider',
    ],
    reason:
      'creates or changes an identity provider that role trust policies accept: a way to mint sessions outside Countersign',
  },
  {
    actions: ['iam:AddUserToGroup', 'iam:RemoveUserFromGroup'],
    reason:
      'changes a user’s group memberships, and so their permissions (leaving a group can drop a Deny), beyond the grant',
  },
  {
    actions: ['iam:TagRole', 'iam:UntagRole', 'iam:TagUser', 'iam:UntagUser'],
    reason: 'changes principal tags, which attribute-based (ABAC) policies and trust conditions grant on',
  },
  {
    actions: ['iam:UpdateRole'],
    reason:
      'changes a role’s maximum session duration: sessions minted from it would outlive what was approved',
  },
  {
    actions: [
      'lambda:AddPermission',
      'lambda:AddLayerVersionPermission',
      'lambda:CreateFunctionUrlConfig',
      'lambda:UpdateFunctionUrlConfig',
    ],
    reason:
      'opens a function or layer to other principals (a function URL may allow anyone): access that outlives the grant',
  },
  {
    actions: ['kms:CreateGrant', 'kms:PutKeyPolicy'],
    reason: 'gives other principals use of a KMS key, lasting until someone retires it',
  },
  {
    actions: [
      'sso:CreateAccountAssignment',
      'sso:PutInlinePolicyToPermissionSet',
      'sso:AttachManagedPolicyToPermissionSet',
      'sso:AttachCustomerManagedPolicyReferenceToPermissionSet',
      'sso:PutPermissionsBoundaryToPermissionSet',
      'sso:DetachManagedPolicyFromPermissionSet',
      'sso:DetachCustomerManagedPolicyReferenceFromPermissionSet',
      'sso:DeleteInlinePolicyFromPermissionSet',
      'sso:DeletePermissionsBoundaryFromPermissionSet',
      'sso:ProvisionPermissionSet',
      'sso:UpdatePermissionSet',
      'identitystore:CreateGroupMembership',
    ],
    reason:
      'changes IAM Identity Center assignments or permission sets: people gain account access that outlives the grant',
  },
  {
    actions: [
      'cloudtrail:StopLogging',
      'cloudtrail:DeleteTrail',
      'cloudtrail:UpdateTrail',
      'cloudtrail:PutEventSelectors',
    ],
    reason: 'blinds CloudTrail, the evidence of what every grant was used for',
  },
];

/** The access level whose actions change permissions (IAM service authorization reference). */
export const PERMISSIONS_MANAGEMENT = 'Permissions management';

/**
 * "Permissions management" actions that are nonetheless grantable, each with why. Only actions
 * that change no one's permissions belong here.
 */
export const PERMISSIONS_EXCEPTIONS: readonly NeverGrantableEntry[] = [
  {
    actions: ['rds-db:connect'],
    reason:
      'filed under Permissions management, but it changes no policy: it lets the session sign an IAM database authentication token for one database user. It is a sensitive read and goes to humans in the example configuration',
  },
];

const OWN_RESOURCE_REASON =
  'is one of Countersign’s own resources (its table, state machine, functions, roles, secret or key, or a configured target or revoker role): access to it could change or read the approval system itself';

/** What the resource aliases are, and why they are refused. */
export const RESOURCE_ALIAS_REASON =
  'names an alias (S3 access point, Multi-Region Access Point or Object Lambda access point) that reaches a bucket Countersign cannot see, so no rule written about buckets can be applied to it; request the bucket ARN (arn:aws:s3:::BUCKET/KEY) instead';

export interface Refusal {
  rule: 'never-grantable' | 'resource-alias';
  reason: string;
}

export interface NeverGrantableInput {
  actions: readonly string[];
  resource: string;
  /** Access levels of the request as a whole (their union). */
  accessLevels: readonly string[];
  /** Each action's access levels, when known (more precise for PERMISSIONS_EXCEPTIONS). */
  actionAccessLevels?: Readonly<Record<string, readonly string[]>>;
}

const matchesAny = (patterns: readonly string[], action: string) =>
  patterns.some((pattern) => globMatch(pattern, action, true));

/** The entry of NEVER_GRANTABLE_ACTIONS that names `action`, if any. */
export function neverGrantableEntry(action: string): NeverGrantableEntry | undefined {
  return NEVER_GRANTABLE_ACTIONS.find((entry) => matchesAny(entry.actions, action));
}

const isException = (action: string) =>
  PERMISSIONS_EXCEPTIONS.some((entry) => matchesAny(entry.actions, action));

/**
 * ARN patterns of Countersign's own resources: those the configuration names (every target and
 * revoker role, under any IAM path, and their sessions), plus `deployed`, what the deployment says
 * about itself (`COUNTERSIGN_OWN_RESOURCES`, set by the CDK stack).
 */
export function ownResourcePatterns(config: CountersignConfig, deployed: readonly string[] = []): string[] {
  const patterns = [...deployed];
  for (const target of config.targets) {
    for (const roleArn of [target.roleArn, target.revokerRoleArn]) {
      if (!roleArn) continue;
      const [, partition, , , account, resource] =
        roleArn.match(/^arn:([^:]+):([^:]*):([^:]*):([^:]*):(.*)$/) ?? [];
      const name = resource?.split('/').pop();
      if (!partition || !account || !name) continue;
      // Role names are unique per account whatever the path, and IAM treats them case-insensitively.
      patterns.push(
        `arn:${partition}:iam::${account}:role/${name}`,
        `arn:${partition}:iam::${account}:role/*/${name}`,
        `arn:${partition}:sts::${account}:assumed-role/${name}/*`,
      );
    }
  }
  return patterns;
}

/**
 * Why a resource ARN is an alias, or undefined. S3 access points (`…:accesspoint/NAME[/object/KEY]`),
 * Multi-Region Access Points (`arn:aws:s3::ACCOUNT:accesspoint/ALIAS.mrap`), Object Lambda and
 * Outposts access points, and bucket-style ARNs built from an access point alias (names ending in
 * `-s3alias`, `--ol-s3`, `--op-s3` or `.mrap`, suffixes S3 reserves for aliases).
 */
export function isResourceAlias(resource: string): boolean {
  const match = resource.match(/^arn:[^:]+:([^:]*):([^:]*):([^:]*):(.*)$/);
  if (!match) return false;
  const [, service, , , rest] = match as unknown as [string, string, string, string, string];
  const path = rest.toLowerCase();
  if (service === 's3-object-lambda') return true;
  // Only at the start of the resource part: in a bucket ARN, `accesspoint/` may be part of a key.
  if (service === 's3' && /^accesspoint[/:]/.test(path)) return true;
  if (service === 's3-outposts' && /^outpost[/:][^/:]+[/:]accesspoint[/:]/.test(path)) return true;
  if (service === 's3') {
    const bucket = path.split('/')[0] ?? '';
    if (/(-s3alias|--ol-s3|--op-s3|\.mrap)$/.test(bucket)) return true;
  }
  return false;
}

/**
 * Why this request can never be granted, or undefined. Checked before any rule: a rule cannot
 * allow what is listed here.
 */
export function neverGrantable(
  input: NeverGrantableInput,
  ownResources: readonly string[],
): Refusal | undefined {
  for (const action of input.actions) {
    const entry = neverGrantableEntry(action);
    if (entry)
      return { rule: 'never-grantable', reason: `${action} is never grantable: it ${entry.reason}.` };
  }
  const permissionsAction = input.actions.find((action) => {
    if (isException(action)) return false;
    const levels = input.actionAccessLevels?.[action] ?? input.accessLevels;
    return levels.includes(PERMISSIONS_MANAGEMENT);
  });
  if (permissionsAction) {
    return {
      rule: 'never-grantable',
      reason: `${permissionsAction} is never grantable: it is a Permissions management action, which changes who may do what beyond the grant.`,
    };
  }
  if (ownResources.some((pattern) => globMatch(pattern, input.resource, true))) {
    return { rule: 'never-grantable', reason: `The resource ${OWN_RESOURCE_REASON}.` };
  }
  if (isResourceAlias(input.resource)) {
    return { rule: 'resource-alias', reason: `The resource ${RESOURCE_ALIAS_REASON}.` };
  }
  return undefined;
}

/**
 * The policy decision for a request: never-grantable requests are denied with their reason
 * (`policy.rule` `never-grantable` or `resource-alias`), everything else goes to the rules.
 * `ownResources` are the deployment's own ARN patterns (COUNTERSIGN_OWN_RESOURCES); the
 * configuration's target and revoker roles are added here.
 */
export function decidePolicy(
  config: CountersignConfig,
  input: PolicyInput & Pick<NeverGrantableInput, 'actionAccessLevels'>,
  ownResources: readonly string[] = [],
): PolicyOutcome {
  const refusal = neverGrantable(input, ownResourcePatterns(config, ownResources));
  if (refusal) {
    return {
      rule: refusal.rule,
      effect: 'deny',
      accessLevels: [...input.accessLevels],
      reason: refusal.reason,
    };
  }
  return evaluatePolicy(config, input);
}
