import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { STSClient } from '@aws-sdk/client-sts';
import { AccessRequests } from '../core/access-requests.js';
import { CredentialClaims, Revocations } from '../core/credentials.js';
import { Decisions } from '../core/decisions.js';
import { type ApprovalWorkflow, type ChatNotifier, type Mac, systemClock } from '../core/ports.js';
import { RequestReader } from '../core/request-reader.js';
import { ApprovalSteps } from '../core/workflow-steps.js';
import { DynamoDbAgentHistory } from './agent-history.js';
import { DynamoDbEventStore } from './dynamodb-events.js';
import { DynamoDbRevocationLedger } from './dynamodb-revocation-ledger.js';
import { DynamoDbRequestStore } from './dynamodb-store.js';
import { IamSessionRevoker } from './iam-revoker.js';
import { JwtAuthenticator } from './jwt-authenticator.js';
import { KmsClient } from './kms-client.js';
import { KmsMac } from './kms-mac.js';
import { createLogger } from './logger.js';
import { clientOptions, requireOwnResources, requireStateMachine, type Settings } from './settings.js';
import { requireBotToken, type SlackSecrets, slackSecretsLoader } from './slack-secrets.js';
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
/** The history key's Mac (KMS, on AWS and on the local AWS), or undefined when none is configured. */
const buildMac = (s: Settings): Mac | undefined =>
  once(s, 'mac', () =>
    s.historyKey ? new KmsMac(new KmsClient(clientOptions(s, 'kms')), s.historyKey.kmsKeyId) : undefined,
  );
/** `{ mac }` when a history key is configured, else nothing: for options objects. */
export const optionalMac = (s: Settings): { mac?: Mac } => {
  const mac = buildMac(s);
  return mac ? { mac } : {};
};
export const buildStore = (s: Settings) =>
  once(s, 'store', () => new DynamoDbRequestStore(dynamoClient(s), s.tableName, optionalMac(s)));
export const buildEvents = (s: Settings) =>
  once(s, 'events', () => new DynamoDbEventStore(dynamoClient(s), s.tableName, buildMac(s)));
const buildHistory = (s: Settings) =>
  once(s, 'history', () => new DynamoDbAgentHistory(dynamoClient(s), s.tableName));
const sfnClient = (s: Settings) => once(s, 'sfnClient', () => new SFNClient(clientOptions(s, 'sfn')));
/** Starting and stopping executions name the state machine: these need STATE_MACHINE_ARN. */
const buildWorkflow = (s: Settings) =>
  once(s, 'sfn', () => new StepFunctionsWorkflow(sfnClient(s), requireStateMachine(s)));
/**
 * Answering a task token (SendTaskSuccess/SendTaskFailure) names no state machine: the token
 * designates the execution. The workflow's own functions resume it this way, and the state
 * machine's ARN cannot be given to them (function → state machine → function is a cycle).
 */
const taskTokens = (s: Settings) =>
  once(s, 'sfnTokens', () => new StepFunctionsWorkflow(sfnClient(s), s.stateMachineArn ?? ''));
export const buildMinter = (s: Settings) =>
  once(s, 'sts', () => new StsCredentialMinter(new STSClient(clientOptions(s, 'sts'))));
const buildRevoker = (s: Settings) =>
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
const buildNotifier = (s: Settings, secrets: SlackSecrets) =>
  once(
    s,
    'slack',
    () =>
      new SlackWebApi({ botToken: secrets.botToken, ...(s.slack.apiUrl ? { baseUrl: s.slack.apiUrl } : {}) }),
  );

/** The Slack secrets of `s`, read on first use (see slackSecretsLoader). */
export const slackSecrets = (s: Settings) => once(s, 'slackSecrets', () => slackSecretsLoader(s));

/**
 * Slack, with its secret read when a message is first sent rather than when the function starts:
 * an unfilled secret (no botToken) or an unreachable Secrets Manager fails that message with a
 * DependencyError, and nothing else. Given secrets (the local stack) are used as they are.
 */
export const buildLazyNotifier = (s: Settings): ChatNotifier =>
  once(s, 'lazySlack', () => {
    let api: { token: string; client: SlackWebApi } | undefined;
    const client = async () => {
      const token = requireBotToken(await slackSecrets(s)());
      if (api?.token !== token) {
        api = {
          token,
          client: new SlackWebApi({
            botToken: token,
            ...(s.slack.apiUrl ? { baseUrl: s.slack.apiUrl } : {}),
          }),
        };
      }
      return api.client;
    };
    return {
      post: async (channel, message) => (await client()).post(channel, message),
      update: async (ref, message) => (await client()).update(ref, message),
      reply: async (ref, message) => (await client()).reply(ref, message),
      ephemeral: async (channel, user, text) => (await client()).ephemeral(channel, user, text),
    };
  });

/**
 * The workflow, built on first use: readers (GET) never need STATE_MACHINE_ARN, and task tokens are
 * answered without it.
 */
const lazyWorkflow = (s: Settings): ApprovalWorkflow => ({
  start: (request) => buildWorkflow(s).start(request),
  succeed: (token, output) => taskTokens(s).succeed(token, output),
  fail: (token, error, cause) => taskTokens(s).fail(token, error, cause),
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
        ownResources: requireOwnResources(s),
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
        workflow: lazyWorkflow(s),
        clock: systemClock,
        config: s.config,
        log: createLogger({ component: 'decisions' }),
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
        ...optionalMac(s),
      }),
  );
/** The workflow steps; without `secrets`, Slack's secret is read when a message is first sent. */
export const buildSteps = (s: Settings, secrets?: SlackSecrets) =>
  once(
    s,
    'steps',
    () =>
      new ApprovalSteps({
        store: buildStore(s),
        clock: systemClock,
        config: s.config,
        notifier: secrets ? buildNotifier(s, secrets) : buildLazyNotifier(s),
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
        workflow: lazyWorkflow(s),
        clock: systemClock,
        ...(onRevoked ? { onRevoked } : {}),
      }),
  );
