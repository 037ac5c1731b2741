import { z } from 'zod';
import { ConfigInvalidError } from './errors.js';
import { ACCESS_LEVELS } from './iam-catalog.js';
import { normalizeIdentity } from './identity.js';
import { DETECTORS } from './masking.js';

/**
 * The one configuration file (DESIGN.md §3), validated once at start. Every refusal names the key
 * (`rules[2].quorum: …`) so an operator can fix the file without reading code. Keys may be added
 * over time, never renamed.
 */

const ACCOUNT = /^\d{12}$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
const SLACK_ID = /^[A-Z0-9]{2,32}$/;

/** A match pattern: `*` and `?` allowed as in IAM, but no policy variables and no control characters. */
const pattern = z
  .string()
  .min(1)
  .max(2048)
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the message names the IAM syntax it refuses
  .refine((s) => !s.includes('${'), 'policy variables (${…}) are not allowed in patterns')
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), 'control characters are not allowed');

/**
 * An identity as configured (`slack.users` values, `approvers` entries): stored in its normal form
 * (identity.ts), the only form identities are compared in.
 */
const identity = z
  .string()
  .min(1)
  .max(256)
  .transform(normalizeIdentity)
  .refine((s) => s !== '', 'an identity cannot be blank');

/** An approver: an identity, or `group:NAME` (a JWT group, kept exactly as written). */
const approverEntry = z
  .string()
  .min(1)
  .max(256)
  .transform((entry) => (entry.startsWith('group:') ? entry : normalizeIdentity(entry)))
  .refine((s) => s !== '' && s !== 'group:', 'an approver cannot be blank')
  .refine(
    (s) => !s.startsWith('group:') || !/\s/.test(s),
    'a group:NAME entry holds no spaces (write it exactly as the JWT group)',
  );

const identityList = z.array(approverEntry).min(1);

const ruleSchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'letters, digits, ".", "_" or "-", at most 64 characters'),
    match: z
      .object({
        actions: z.array(pattern).min(1).optional(),
        /**
         * The rule does not match a request naming any of these actions (allow and approve rules
         * only: on a deny rule it would narrow the deny). How the example keeps sensitive reads
         * (secrets, decryption, queue receives) out of its auto-allowed `reads`.
         */
        exceptActions: z.array(pattern).min(1).optional(),
        resources: z.array(pattern).min(1).optional(),
        accessLevels: z.array(z.enum(ACCESS_LEVELS)).min(1).optional(),
        agentGroups: z.array(z.string().min(1)).min(1).optional(),
        // Matched against JWT subs, which are normalized: patterns are too (`*`, `?` are unchanged).
        agents: z.array(z.string().min(1).transform(normalizeIdentity)).min(1).optional(),
      })
      .strict()
      .default({}),
    effect: z.enum(['deny', 'allow', 'approve']),
    approvers: identityList.optional(),
    quorum: z.number().int().min(1).max(10).optional(),
    // Step Functions task timeouts reach a year; an approval left open longer than 7 days is a smell.
    approvalTimeoutSeconds: z.number().int().min(10).max(604_800).optional(),
    maxDurationSeconds: z.number().int().min(60).max(43_200).optional(),
    minReviewSeconds: z.number().int().min(0).max(3_600).optional(),
    minReviewMode: z.enum(['refuse', 'flag']).optional(),
    /** `call`: only exact calls are granted under this rule (DESIGN.md §4 "Exact calls"). @default any */
    mode: z.enum(['any', 'call']).optional(),
  })
  .strict()
  .superRefine((rule, ctx) => {
    if (rule.effect === 'approve') {
      if (!rule.approvers) {
        ctx.addIssue({
          code: 'custom',
          path: ['approvers'],
          message: 'an approve rule must name its approvers',
        });
      } else {
        // Entries are already normalized: two that are equal now are one person written twice
        // (`Alice@example.com`, `alice@example.com`), who would otherwise look like two votes.
        const seen = new Set<string>();
        rule.approvers.forEach((entry, i) => {
          if (seen.has(entry)) {
            ctx.addIssue({
              code: 'custom',
              path: ['approvers', i],
              message: `rule ${rule.name} names ${entry} twice (identities are compared case-folded, NFKC, trimmed)`,
            });
          }
          seen.add(entry);
        });
        const people = [...seen].filter((a) => !a.startsWith('group:')).length;
        const hasGroups = people < seen.size;
        if (!hasGroups && (rule.quorum ?? 1) > people) {
          ctx.addIssue({
            code: 'custom',
            path: ['quorum'],
            message: `quorum ${rule.quorum} cannot be reached by ${people} named approver(s) of rule ${rule.name}, each counted once`,
          });
        }
      }
    }
    if (rule.effect === 'deny' && rule.match.exceptActions) {
      ctx.addIssue({
        code: 'custom',
        path: ['match', 'exceptActions'],
        message: 'not allowed on a deny rule: excepting actions from a deny would let them through',
      });
    }
    if (rule.effect !== 'approve') {
      for (const key of [
        'approvers',
        'quorum',
        'approvalTimeoutSeconds',
        'minReviewSeconds',
        'minReviewMode',
      ] as const) {
        if (rule[key] !== undefined) {
          ctx.addIssue({ code: 'custom', path: [key], message: `only meaningful when effect is approve` });
        }
      }
    }
  });

export const configSchema = z
  .object({
    // Optional in local mode, where the embedded issuer is used (a deployment without an issuer
    // refuses every token and says so at synth); the defaults are what the embedded issuer signs.
    identity: z
      .object({
        issuer: z.string().url().optional(),
        audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).default('countersign'),
        groupsClaim: z.string().min(1).default('groups'),
        /** Defaults to `${issuer}/.well-known/jwks.json`; GitHub Actions, for one, serves it elsewhere. */
        jwksUri: z.string().url().optional(),
      })
      .strict()
      .default({ audience: 'countersign', groupsClaim: 'groups' }),
    roles: z
      .object({
        agents: z.array(z.string().min(1)).min(1),
        approvers: z.array(z.string().min(1)).min(1),
        auditors: z.array(z.string().min(1)).min(1),
      })
      .strict(),
    slack: z
      .object({
        channel: z.string().regex(SLACK_ID, 'a Slack channel id such as C0123456789'),
        teamId: z.string().regex(SLACK_ID, 'a Slack team id such as T0123456789'),
        appId: z.string().regex(SLACK_ID, 'a Slack app id such as A0123456789'),
        users: z.record(z.string().regex(SLACK_ID, 'a Slack user id such as U0123456789'), identity),
      })
      .strict(),
    targets: z
      .array(
        z
          .object({
            account: z
              .string({
                // YAML reads 111122223333 as a number (and 012345678901 loses its zero): say how to fix it.
                error: (issue) =>
                  typeof issue.input === 'number'
                    ? `a 12-digit AWS account id as text: quote it in YAML ("${String(issue.input).padStart(12, '0')}"), or leading zeros are lost`
                    : 'a 12-digit AWS account id (quote it in YAML)',
              })
              .regex(ACCOUNT, 'a 12-digit AWS account id (quote it in YAML)'),
            roleArn: z.string().regex(ROLE_ARN, 'an IAM role ARN'),
            /**
             * A role in the target's account that revoke-request assumes to write the revocation
             * Deny on `roleArn` (IAM only changes roles of the caller's own account). Without it,
             * the function's own credentials are used, which reach only roles of its own account.
             */
            revokerRoleArn: z.string().regex(ROLE_ARN, 'an IAM role ARN').optional(),
            /**
             * ARNs that carry no account (S3 buckets and objects, …) living in this account: such
             * an ARN goes to the first target whose patterns match it (lambdas/core/targets.ts).
             */
            resources: z
              .array(
                pattern.refine(
                  (p) => /^arn:[^:]*:[^:]*:[^:]*::/.test(p),
                  'an ARN pattern without an account, such as arn:aws:s3:::acme-prod-* (ARNs with an account go to the target of that account)',
                ),
              )
              .min(1)
              .optional(),
          })
          .strict()
          .refine((t) => t.roleArn.split(':')[4] === t.account, {
            message: 'roleArn must be in the same account',
            path: ['roleArn'],
          })
          .refine((t) => t.revokerRoleArn === undefined || t.revokerRoleArn.split(':')[4] === t.account, {
            message: 'revokerRoleArn must be in the same account',
            path: ['revokerRoleArn'],
          }),
      )
      .min(1),
    rules: z.array(ruleSchema).min(1),
    /** Applied to every exact call's output (lambdas/core/masking.ts). @default DEFAULT_MASKING */
    masking: z
      .array(
        z.union([
          z.object({ fields: z.array(pattern.and(z.string().max(256))).min(1) }).strict(),
          z.object({ detect: z.array(z.enum(DETECTORS)).min(1) }).strict(),
        ]),
      )
      .optional(),
    default: z.literal('deny', { message: 'only "deny" is allowed: anything no rule names is refused' }),
    limits: z
      .object({
        /** Requests one agent may make per minute before `429 RateLimited`. */
        requestsPerMinutePerAgent: z.number().int().min(1).max(10_000).default(60),
        /** Upper bound on `waitSeconds` of the long-poll (the contract caps it at 20). */
        maxWaitSeconds: z.number().int().min(0).max(20).default(20),
        /**
         * Revokes one agent may make of its own requests per minute before `429 RateLimited`
         * (each one with live sessions writes on the shared target role). Approvers and auditors
         * are never limited.
         */
        revokesPerMinutePerAgent: z.number().int().min(1).max(1_000).default(10),
        /** Credential claims one agent may make per minute, over all its grants. */
        claimsPerMinutePerAgent: z.number().int().min(1).max(1_000).default(20),
        /** Sessions of one grant that may be live (not yet expired) at once. */
        liveSessionsPerGrant: z.number().int().min(1).max(100).default(5),
        /** Long-polls (`waitSeconds` > 0) one caller may hold open at once. */
        concurrentWaitsPerCaller: z.number().int().min(1).max(100).default(5),
      })
      .strict()
      .default({
        requestsPerMinutePerAgent: 60,
        maxWaitSeconds: 20,
        revokesPerMinutePerAgent: 10,
        claimsPerMinutePerAgent: 20,
        liveSessionsPerGrant: 5,
        concurrentWaitsPerCaller: 5,
      }),
    /**
     * The web console (DESIGN.md §6): a public OIDC client signing in with authorization code + PKCE.
     * Optional; locally the client id defaults to the first `identity.audience`.
     */
    console: z
      .object({
        /** The console's client id at the issuer; the console sends the ID token, so list it in `identity.audience`. */
        clientId: z.string().min(1).max(256),
        /** @default 'openid' — Okta wants `openid groups`, Entra ID `openid profile` */
        scope: z.string().min(1).max(512).default('openid'),
        /** @default - from the issuer's discovery document (Cognito: `https://<domain>/oauth2/authorize`) */
        authorizationEndpoint: z.string().url().optional(),
        /** @default - from the issuer's discovery document (Cognito: `https://<domain>/oauth2/token`) */
        tokenEndpoint: z.string().url().optional(),
      })
      .strict()
      .optional(),
    local: z
      .object({
        /** The local stack's Slack signing secret when SLACK_SIGNING_SECRET is not set. Never used on AWS. */
        slackSigningSecret: z.string().min(16).optional(),
        /** The region the local stack's AWS answers as (ARNs, SigV4 scopes). Never used on AWS, where the stack's region is. */
        region: z.string().default('us-east-1'),
        /** The account the local assembly runs in (its table, functions, roles). @default the first target's account */
        account: z.string().regex(ACCOUNT, 'a 12-digit AWS account id (quote it in YAML)').optional(),
        /**
         * The identity policy of every local target role (a policy document). Sessions get the
         * intersection of it and their session policy. @default allow everything
         */
        targetRolePolicy: z.record(z.string(), z.unknown()).optional(),
        /** How long the local CloudTrail takes to deliver a record to EventBridge. @default 1 */
        cloudTrailDelaySeconds: z.number().min(0).max(300).optional(),
        /** Plain tables (partition key `id`) created in the local DynamoDB for walk-throughs. */
        demoTables: z.array(z.string().regex(/^[\w.-]{3,255}$/, 'a DynamoDB table name')).optional(),
        /** S3 buckets created in the local S3 for walk-throughs. */
        demoBuckets: z
          .array(z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name'))
          .optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const names = new Set<string>();
    cfg.rules.forEach((rule, i) => {
      if (names.has(rule.name))
        ctx.addIssue({
          code: 'custom',
          path: ['rules', i, 'name'],
          message: `duplicate rule name ${rule.name}`,
        });
      names.add(rule.name);
    });
    const accounts = new Set<string>();
    cfg.targets.forEach((t, i) => {
      if (accounts.has(t.account))
        ctx.addIssue({
          code: 'custom',
          path: ['targets', i, 'account'],
          message: `account ${t.account} listed twice`,
        });
      accounts.add(t.account);
    });
  });

export type CountersignConfig = z.infer<typeof configSchema>;
export type Rule = CountersignConfig['rules'][number];

/**
 * Formats a zod path as the key an operator would look for: `rules[writes].match.actions[0]`. An
 * array element with a `name` (a rule) is named by it, when `raw` (the parsed file) is given.
 */
export function formatKey(path: ReadonlyArray<PropertyKey>, raw?: unknown): string {
  let out = '';
  let node: unknown = raw;
  for (const part of path) {
    const child =
      node !== null && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[part] : undefined;
    if (typeof part === 'number') {
      const name =
        child !== null && typeof child === 'object' ? (child as { name?: unknown }).name : undefined;
      out +=
        typeof name === 'string' && /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)
          ? `[${name}]`
          : `[${part}]`;
    } else out += out ? `.${String(part)}` : String(part);
    node = child;
  }
  return out || '(root)';
}

/** Its home is errors.ts, with the other errors; re-exported for the configuration's readers. */

/** Validates a parsed configuration object, throwing ConfigInvalidError naming every bad key. */
export function parseConfig(raw: unknown): CountersignConfig {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigInvalidError(
      result.error.issues.map((issue) => ({ key: formatKey(issue.path, raw), message: issue.message })),
    );
  }
  return result.data;
}
