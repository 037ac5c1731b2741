import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { SFNClient } from '@aws-sdk/client-sfn';
import { STSClient } from '@aws-sdk/client-sts';
import { AccessRequests } from '../core/access-requests.js';
import { CredentialClaims, Revocations } from '../core/credentials.js';
import { Decisions } from '../core/decisions.js';
import { type ApprovalWorkflow, type Mac, systemClock } from '../core/ports.js';
import { RequestReader } from '../core/request-reader.js';
import { ApprovalSteps } from '../core/workflow-steps.js';
import { DynamoDbAgentHistory } from './agent-history.js';
import { DynamoDbEventStore } from './dynamodb-events.js';
import { DynamoDbRequestStore, DynamoDbRevocationLedger } from './dynamodb-store.js';
import { HmacMac } from './hmac-mac.js';
import { IamSessionRevoker } from './iam-revoker.js';
import { JwtAuthenticator } from './jwt-authenticator.js';
import { KmsMac } from './kms-mac.js';
import { clientOptions, requireStateMachine, type Settings } from './settings.js';
import type { SlackSecrets } from './slack-secrets.js';
import { SlackWebApi } from './slack-web-api.js';
import { StepFunctionsWorkflow } from './step-functions-workflow.js';
import { StsCredentialMinter } from './sts-minter.js';

/**
 * Builders for each part, from Settings. Each handler calls only those it needs, and because the
 * AWS SDK packages are side-effect free, esbuild drops every client a handler does not use.
 */
const memo = new WeakMap<Settings, Map<string, unknown>>();
function once<T>(settings: Settings, key: string, make: () => T): T {
  let cache = memo.get(settings);
  if (!cache) {
    cache = new Map();
    memo.set(settings, cache);
  }
  if (!cache.has(key)) cache.set(key, make());
  return cache.get(key) as T;
}

export const dynamoClient = (s: Settings) =>
  once(s, 'ddb', () => new DynamoDBClient(clientOptions(s, 'dynamodb')));
/** The history key's Mac (KMS on AWS, a local key locally), or undefined when none is configured. */
export const buildMac = (s: Settings): Mac | undefined =>
  once(s, 'mac', () => {
    const key = s.historyKey;
    if (!key) return undefined;
    if ('kmsKeyId' in key) return new KmsMac(new KMSClient(clientOptions(s, 'kms')), key.kmsKeyId);
    return new HmacMac(Buffer.from(key.localKey, 'base64'));
  });
/** `{ mac }` when a history key is configured, else nothing: for options objects. */
export const optionalMac = (s: Settings): { mac?: Mac } => {
  const mac = buildMac(s);
  return mac ? { mac } : {};
};
export const buildStore = (s: Settings) =>
  once(s, 'store', () => new DynamoDbRequestStore(dynamoClient(s), s.tableName, optionalMac(s)));
export const buildEvents = (s: Settings) =>
  once(s, 'events', () => new DynamoDbEventStore(dynamoClient(s), s.tableName, buildMac(s)));
export const buildHistory = (s: Settings) =>
  once(s, 'history', () => new DynamoDbAgentHistory(dynamoClient(s), s.tableName));
export const buildWorkflow = (s: Settings) =>
  once(
    s,
    'sfn',
    () => new StepFunctionsWorkflow(new SFNClient(clientOptions(s, 'sfn')), requireStateMachine(s)),
  );
export const buildMinter = (s: Settings) =>
  once(s, 'sts', () => new StsCredentialMinter(new STSClient(clientOptions(s, 'sts'))));
export const buildRevoker = (s: Settings) =>
  once(
    s,
    'iam',
    () =>
      new IamSessionRevoker({
        targets: s.config.targets,
        ...(s.account ? { account: s.account } : {}),
        iam: clientOptions(s, 'iam'),
        sts: new STSClient(clientOptions(s, 'sts')),
        ledger: new DynamoDbRevocationLedger(dynamoClient(s), s.tableName),
      }),
  );
export const buildAuthenticator = (s: Settings) => once(s, 'jwt', () => new JwtAuthenticator(s.jwt));
export const buildNotifier = (s: Settings, secrets: SlackSecrets) =>
  once(
    s,
    'slack',
    () =>
      new SlackWebApi({ botToken: secrets.botToken, ...(s.slack.apiUrl ? { baseUrl: s.slack.apiUrl } : {}) }),
  );

/** The workflow, built on first use: readers (GET) never need STATE_MACHINE_ARN. */
const lazyWorkflow = (s: Settings): ApprovalWorkflow => ({
  start: (request) => buildWorkflow(s).start(request),
  succeed: (token, output) => buildWorkflow(s).succeed(token, output),
  fail: (token, error, cause) => buildWorkflow(s).fail(token, error, cause),
  stop: (requestId, cause) => buildWorkflow(s).stop(requestId, cause),
});

export const buildAccessRequests = (s: Settings) =>
  once(
    s,
    'requests',
    () =>
      new AccessRequests({
        store: buildStore(s),
        workflow: lazyWorkflow(s),
        clock: systemClock,
        config: s.config,
      }),
  );
export const buildReader = (s: Settings) =>
  once(
    s,
    'reader',
    () =>
      new RequestReader({
        store: buildStore(s),
        clock: systemClock,
        concurrentWaitsPerCaller: s.config.limits.concurrentWaitsPerCaller,
      }),
  );
export const buildDecisions = (s: Settings) =>
  once(
    s,
    'decisions',
    () =>
      new Decisions({
        store: buildStore(s),
        workflow: buildWorkflow(s),
        clock: systemClock,
        config: s.config,
      }),
  );
export const buildClaims = (s: Settings) =>
  once(
    s,
    'claims',
    () =>
      new CredentialClaims({
        store: buildStore(s),
        minter: buildMinter(s),
        clock: systemClock,
        limits: {
          claimsPerMinutePerAgent: s.config.limits.claimsPerMinutePerAgent,
          liveSessionsPerGrant: s.config.limits.liveSessionsPerGrant,
        },
      }),
  );
export const buildSteps = (s: Settings, secrets: SlackSecrets) =>
  once(
    s,
    'steps',
    () =>
      new ApprovalSteps({
        store: buildStore(s),
        clock: systemClock,
        config: s.config,
        notifier: buildNotifier(s, secrets),
        history: buildHistory(s),
        decisions: buildDecisions(s),
        events: buildEvents(s),
      }),
  );
export const buildRevocations = (
  s: Settings,
  onRevoked?: ConstructorParameters<typeof Revocations>[0]['onRevoked'],
) =>
  once(
    s,
    'revocations',
    () =>
      new Revocations({
        store: buildStore(s),
        revokesPerMinutePerAgent: s.config.limits.revokesPerMinutePerAgent,
        revoker: buildRevoker(s),
        workflow: buildWorkflow(s),
        clock: systemClock,
        ...(onRevoked ? { onRevoked } : {}),
      }),
  );
