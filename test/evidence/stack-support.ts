import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbRequestStore } from '../../lambdas/adapters/dynamodb-store.js';
import { KmsClient } from '../../lambdas/adapters/kms-client.js';
import { KmsMac } from '../../lambdas/adapters/kms-mac.js';
import { AccessRequests } from '../../lambdas/core/access-requests.js';
import { CredentialClaims } from '../../lambdas/core/credentials.js';
import { Decisions } from '../../lambdas/core/decisions.js';
import type { Caller } from '../../lambdas/core/model.js';
import { resolveEnvironment } from '../../lib/local/assembly/intrinsics.js';
import { physicalResources } from '../../lib/local/assembly/physical-resources.js';
import { cloudTrailEvent } from '../../lib/local/cloudtrail-delivery.js';
import type { TestStack } from '../support/local-stack.js';
import { FakeMinter, noWorkflow, type TestClock } from './support.js';

/**
 * The evidence suites on the local stack: what the deployed functions were given (their resolved
 * environment and roles), a tap on the stack's CloudTrail (to see which calls a function's role made,
 * and to hold CloudTrail's delivery back as CloudTrail's own delay would), the CloudTrail feed into
 * the deployed linker, and requests seeded in the past for reports over dated ranges.
 */

type DeployedFunction = TestStack['stack']['functions'][number];

/** The deployed function whose physical name contains `logicalName` (e.g. `ReportsFunction`). */
export function deployedFunction(stack: TestStack, logicalName: string): DeployedFunction {
  const found = stack.stack.functions.filter((f) => f.name.includes(logicalName));
  if (found.length !== 1)
    throw new Error(`expected one function named like ${logicalName}, found ${found.length}`);
  return found[0]!;
}

/** A function's environment as deployed: the template's variables resolved as CloudFormation would. */
export function deployedEnvironment(stack: TestStack, logicalName: string): Record<string, string> {
  const model = stack.stack.assembly.model;
  const ctx = physicalResources(model, {
    account: stack.stack.account,
    region: stack.stack.region,
    stackName: 'Countersign',
    parameters: { OidcIssuer: stack.stack.issuer.issuer, SlackApiUrl: `${stack.stack.endpoints.slack}/api` },
  });
  const fn = model.functions.find((f) => f.logicalId.startsWith(logicalName));
  if (!fn) throw new Error(`the template has no function ${logicalName}`);
  return resolveEnvironment(fn, ctx);
}

type Record_ = Record<string, unknown>;

/**
 * Every CloudTrail record the local AWS writes, seen on its way to EventBridge. While `hold()` is on,
 * records wait (as CloudTrail's minutes of delay would keep them) until `release()` delivers them.
 */
export class CloudTrailTap {
  readonly seen: Record_[] = [];
  private held: Record_[] | undefined;
  private readonly forward: (record: Record_) => void;

  constructor(private readonly stack: TestStack) {
    const delivery = stack.stack.delivery;
    this.forward = delivery.record.bind(delivery);
    delivery.record = (record) => {
      this.seen.push(record);
      if (this.held) this.held.push(record);
      else this.forward(record);
    };
  }

  hold(): void {
    this.held ??= [];
  }

  /** Delivers what was held, in order, and waits until the rules' targets have run. */
  async release(): Promise<void> {
    const held = this.held ?? [];
    this.held = undefined;
    for (const record of held) this.forward(record);
    await this.stack.stack.delivery.idle();
  }

  /** DynamoDB calls made by a role since `mark` (an index into `seen`): operation and index. */
  dynamoCallsBy(roleArn: string, mark = 0): Array<{ operation: string; indexName?: string }> {
    return this.seen
      .slice(mark)
      .filter((r) => {
        const identity = r.userIdentity as
          | { sessionContext?: { sessionIssuer?: { arn?: string } } }
          | undefined;
        return (
          r.eventSource === 'dynamodb.amazonaws.com' &&
          identity?.sessionContext?.sessionIssuer?.arn === roleArn
        );
      })
      .map((r) => {
        const params = (r.requestParameters ?? {}) as { indexName?: string };
        return {
          operation: String(r.eventName),
          ...(params.indexName ? { indexName: params.indexName } : {}),
        };
      });
  }
}

/**
 * Delivers a CloudTrail record as CloudTrail hands it to EventBridge: through the template's rules
 * (pattern and State) to their targets, the deployed linker. Returns how many rules matched.
 */
export async function deliverThroughEventBridge(stack: TestStack, record: Record_): Promise<number> {
  return stack.stack.delivery.deliver(cloudTrailEvent(record, stack.stack.account, stack.stack.region));
}

export interface LinkReport {
  received: number;
  stored: number;
  duplicates: number;
  ignored: number;
  ignoredBy: Record<string, number>;
}

/** `POST /local/cloudtrail`: the deployed linker's report for a record, `{Records}` or an event. */
export async function feedLinker(stack: TestStack, body: unknown): Promise<LinkReport> {
  const answer = await stack.call<LinkReport>('POST', '/local/cloudtrail', { body });
  if (answer.status !== 200)
    throw new Error(`/local/cloudtrail: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}

/** The link reports the deployed linker logged since `mark` (an index into `stack.logs`). */
export function loggedLinkReports(stack: TestStack, mark: number): LinkReport[] {
  return stack.logs.slice(mark).flatMap((line) => {
    const at = line.indexOf('{');
    if (at < 0 || !line.includes('cloudtrail linked')) return [];
    try {
      const parsed = JSON.parse(line.slice(at)) as Record_;
      if (typeof parsed.received !== 'number') return [];
      const { received, stored, duplicates, ignored, ignoredBy } = parsed as unknown as LinkReport;
      return [{ received, stored, duplicates, ignored, ignoredBy }];
    } catch {
      return [];
    }
  });
}

/**
 * Requests made in the past, for reports over dated ranges: the request lifecycle (the code the
 * request, decision and claim functions run) on a clock the test moves, writing the stack's table
 * with the stack's history key — through the local KMS, as a session of the request function's
 * role — so that the deployed reports verify them as they verify their own. STS is stood in for
 * (the minted keys are only recorded); the activity of those keys is then fed to the deployed linker.
 */
export function pastLifecycle(stack: TestStack, clock: TestClock) {
  const env = deployedEnvironment(stack, 'RequestAccessFunction');
  const keyId = env.HISTORY_KEY_ID;
  if (!keyId) throw new Error('the request function has no HISTORY_KEY_ID');
  const role = deployedFunction(stack, 'RequestAccessFunction').roleArn;
  const session = stack.stack.aws.issueRoleSession(role, 'evidence-seed');
  const kms = new KmsClient({
    region: stack.stack.region,
    endpoint: stack.stack.endpoints.aws,
    credentials: {
      accessKeyId: session.accessKeyId,
      secretAccessKey: session.secretAccessKey,
      sessionToken: session.sessionToken,
    },
  });
  // The table as CloudFormation created it (DynamoDB Local itself: seeding is not under test).
  const ddb = new DynamoDBClient({
    region: stack.stack.region,
    endpoint: stack.stack.endpoints.dynamodb,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const store = new DynamoDbRequestStore(ddb, stack.stack.tableName, { mac: new KmsMac(kms, keyId) });
  const deps = { store, workflow: noWorkflow, clock, config: stack.stack.config };
  const requests = new AccessRequests(deps);
  const decisions = new Decisions(deps);
  const claims = new CredentialClaims({ store, minter: new FakeMinter(clock), clock });
  const agent = (sub: string): Caller => ({
    sub,
    issuer: stack.stack.issuer.issuer,
    groups: ['agents'],
    roles: new Set(['agent']),
  });
  return {
    store,
    requests,
    decisions,
    claims,
    agent,
    close: () => {
      ddb.destroy();
    },
  };
}
