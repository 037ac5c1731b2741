import { BatchWriteItemCommand, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { DynamoDbReports } from '../lambdas/adapters/dynamodb-reports.js';
import { toItem } from '../lambdas/adapters/dynamodb-table.js';
import type { ApiEvent } from '../lambdas/adapters/http.js';
import { createLogger } from '../lambdas/adapters/logger.js';
import type { CountersignConfig } from '../lambdas/core/config.js';
import { computeGrant } from '../lambdas/core/grants.js';
import { appendHistory } from '../lambdas/core/history.js';
import { newRequestId } from '../lambdas/core/ids.js';
import type { AccessRequest, Caller, Decision, PolicyOutcome } from '../lambdas/core/model.js';
import { createReportsHandler } from '../lambdas/handlers/reports.js';
import { createLocalDynamoDbClient, ensureTable, startDynamoDbLocal } from '../lib/local/dynamodb-local.js';
import { DynamoMeter, type MeterReading } from './lib/meter.js';

/**
 * Reports at scale: REQUEST items, written exactly as the store writes them (`toItem`: the item plus
 * its byAgent/byDay index keys), loaded with BatchWriteItem into a DynamoDB Local of their own; then
 * the reports handler (lambdas/handlers/reports.ts over DynamoDbReports) pages through each report
 * while a meter reads DynamoDB's own ScannedCount, Count and ConsumedCapacity.
 */

export const REPORT_ISSUER = 'https://issuer.example.com';
const TABLE = 'countersign-reports-bench';
const DAY_MS = 86_400_000;
const ACCOUNT = '111122223333';

/** A small deterministic PRNG (mulberry32), so every run loads the same data. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const POLICIES: Record<string, PolicyOutcome> = {
  reads: { rule: 'reads', effect: 'allow', accessLevels: ['Read'], maxDurationSeconds: 3600 },
  writes: {
    rule: 'writes',
    effect: 'approve',
    accessLevels: ['Write'],
    quorum: 1,
    approvers: ['alice@example.com', 'bob@example.com'],
    approvalTimeoutSeconds: 3600,
    maxDurationSeconds: 3600,
    minReviewSeconds: 5,
  },
  deny: { rule: 'deny-destructive', effect: 'deny', accessLevels: ['Write'] },
};

const agentSub = (i: number) => `agent-${String(i).padStart(3, '0')}`;

/**
 * One request as the lifecycle leaves it: policy-allowed reads, human approvals (some expired),
 * human denials, policy denials and timeouts, each with its hash-chained history.
 */
export function syntheticRequest(
  config: CountersignConfig,
  random: () => number,
  agents: number,
  now: number,
): AccessRequest {
  const created = new Date(now - Math.floor(random() * 90 * DAY_MS));
  const createdAt = created.toISOString();
  const kind = random();
  const table = `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/orders-${Math.floor(random() * 40)}`;
  const base: AccessRequest = {
    id: newRequestId(),
    status: 'PENDING',
    requester: { sub: agentSub(Math.floor(random() * agents)), issuer: REPORT_ISSUER, groups: ['agents'] },
    resource: table,
    actions: kind < 0.6 ? ['dynamodb:GetItem', 'dynamodb:Query'] : ['dynamodb:PutItem'],
    reason: `Backfill order ${Math.floor(random() * 100_000)} after the failed batch (INC-${Math.floor(random() * 9000)})`,
    context: { task: `INC-${Math.floor(random() * 9000)}`, runId: `run-${Math.floor(random() * 1e6)}` },
    durationSeconds: 900,
    createdAt,
    updatedAt: createdAt,
    policy: kind < 0.6 ? POLICIES.reads! : kind < 0.97 ? POLICIES.writes! : POLICIES.deny!,
    decisions: [],
    version: 1,
  };
  let request = base;
  let history = appendHistory([], request, 'created:PENDING', createdAt);
  const change = (patch: Partial<AccessRequest>, event: string, at: string) => {
    request = { ...request, ...patch, updatedAt: at, version: request.version + 1 };
    history = appendHistory(history, request, event, at);
  };
  if (kind < 0.6) {
    const decision: Decision = {
      approver: 'policy:reads',
      decision: 'approve',
      channel: 'policy',
      at: createdAt,
    };
    request = {
      ...request,
      status: 'APPROVED',
      decisions: [decision],
      grant: computeGrant(config, request, created),
    };
    history = appendHistory([], request, 'created:APPROVED', createdAt);
  } else if (kind < 0.97) {
    const shownAt = new Date(created.getTime() + 1000).toISOString();
    change(
      { shownAt, slack: { channel: 'C0123456789', ts: `${Math.floor(created.getTime() / 1000)}.000100` } },
      'shown to approvers',
      shownAt,
    );
    const reviewSeconds = 3 + Math.floor(random() * 600);
    const decidedAt = new Date(created.getTime() + 1000 + reviewSeconds * 1000);
    const at = decidedAt.toISOString();
    if (kind < 0.95) {
      const approve = kind < 0.85;
      const decision: Decision = {
        approver: random() < 0.5 ? 'alice@example.com' : 'bob@example.com',
        decision: approve ? 'approve' : 'deny',
        channel: 'slack',
        at,
        reviewSeconds,
        ...(reviewSeconds < 5 ? { rubberStamp: true } : {}),
      };
      if (approve) {
        const grant = computeGrant(config, request, decidedAt);
        change(
          { decisions: [decision], status: 'APPROVED', grant },
          `decision:approve by ${decision.approver} via slack`,
          at,
        );
        if (Date.parse(grant.notAfter) < now) {
          change(
            {
              status: 'EXPIRED',
              outcome: { reason: `The grant ended at ${grant.notAfter}.`, at: grant.notAfter },
            },
            'expired',
            grant.notAfter,
          );
        }
      } else {
        change(
          {
            decisions: [decision],
            status: 'DENIED',
            outcome: { reason: 'Denied by an approver.', by: decision.approver, at },
          },
          `decision:deny by ${decision.approver} via slack; denied`,
          at,
        );
      }
    } else {
      const at2 = new Date(created.getTime() + 3600_000).toISOString();
      change(
        { status: 'TIMED_OUT', outcome: { reason: 'No decision within 3600 s.', at: at2 } },
        'timed out',
        at2,
      );
    }
  } else {
    request = {
      ...request,
      status: 'DENIED',
      outcome: { reason: 'Denied by policy rule deny-destructive.', at: createdAt },
    };
    history = appendHistory([], request, 'created:DENIED', createdAt);
  }
  return { ...request, history };
}

export interface LoadResult {
  items: number;
  seconds: number;
  /** Average stored REQUEST item, bytes of its DynamoDB JSON. */
  itemBytes: number;
}

/** Loads `count` synthetic requests over `agents` agents and 90 days with BatchWriteItem (25 per call). */
export async function loadRequests(
  client: DynamoDBClient,
  config: CountersignConfig,
  options: {
    count: number;
    agents: number;
    now: number;
    concurrency?: number;
    onProgress?: (done: number) => void;
  },
): Promise<LoadResult> {
  const random = prng(20_260_101);
  const started = performance.now();
  let produced = 0;
  let written = 0;
  let bytes = 0;
  const nextBatch = (): WriteRequest[] => {
    const batch: WriteRequest[] = [];
    while (batch.length < 25 && produced < options.count) {
      const item = toItem(syntheticRequest(config, random, options.agents, options.now));
      if (produced < 1000) bytes += JSON.stringify(item).length;
      batch.push({ PutRequest: { Item: item } });
      produced += 1;
    }
    return batch;
  };
  const worker = async () => {
    for (let batch = nextBatch(); batch.length > 0; batch = nextBatch()) {
      let pending: Record<string, WriteRequest[]> | undefined = { [TABLE]: batch };
      for (let attempt = 0; pending && (pending[TABLE]?.length ?? 0) > 0; attempt++) {
        if (attempt > 8) throw new Error('BatchWriteItem kept returning unprocessed items');
        if (attempt > 0) await new Promise((r) => setTimeout(r, 20 * 2 ** attempt));
        const out: { UnprocessedItems?: Record<string, WriteRequest[]> } = await client.send(
          new BatchWriteItemCommand({ RequestItems: pending }),
        );
        pending = out.UnprocessedItems;
      }
      const before = written;
      written += batch.length;
      if (Math.floor(before / 10_000) !== Math.floor(written / 10_000)) options.onProgress?.(written);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 6 }, worker));
  return {
    items: written,
    seconds: (performance.now() - started) / 1000,
    itemBytes: Math.round(bytes / Math.min(1000, options.count)),
  };
}

export interface ReportRun {
  name: string;
  /** Items the report returned (requests listed, or requests a review covered). */
  returned: number;
  /** Items DynamoDB read for it (ScannedCount). */
  read: number;
  readUnits: number;
  queries: number;
  pages: number;
  /** Milliseconds per page (API call), and for the whole report. */
  pageMs: number[];
  totalMs: number;
}

const AUDITOR: Caller = {
  sub: 'auditor@example.com',
  issuer: REPORT_ISSUER,
  groups: ['auditors'],
  roles: new Set(['auditor']),
};

function reportEvent(path: string, query: Record<string, string>): ApiEvent {
  return {
    httpMethod: 'GET',
    path,
    resource: path,
    headers: { authorization: 'Bearer bench' },
    queryStringParameters: query,
    pathParameters: null,
    body: null,
  };
}

export class ReportBench {
  private readonly meter = new DynamoMeter();
  private readonly handler;

  constructor(client: DynamoDBClient) {
    this.meter.attach(client);
    this.handler = createReportsHandler({
      reports: new DynamoDbReports(client, TABLE),
      // The reports, not JWT verification, are measured here: the caller is an auditor.
      authenticator: { authenticate: async () => AUDITOR },
      logger: createLogger({ fn: 'reports-bench' }, () => undefined),
      issuer: REPORT_ISSUER,
    });
  }

  /** Pages through `GET /v1/reports/requests` with `query` until there is no cursor. */
  async list(name: string, query: Record<string, string>): Promise<ReportRun> {
    this.meter.reset();
    const pageMs: number[] = [];
    let returned = 0;
    let cursor: string | undefined;
    const started = performance.now();
    do {
      const t = performance.now();
      const result = await this.handler(
        reportEvent('/v1/reports/requests', { ...query, ...(cursor ? { cursor } : {}) }),
      );
      pageMs.push(performance.now() - t);
      if (result.statusCode !== 200) throw new Error(`${name}: ${result.statusCode} ${result.body}`);
      const body = JSON.parse(result.body) as { items: unknown[]; nextCursor: string | null };
      returned += body.items.length;
      cursor = body.nextCursor ?? undefined;
    } while (cursor);
    return this.finish(name, returned, pageMs, performance.now() - started);
  }

  /** `GET /v1/reports/access-review`: returned = requests the review covered. */
  async review(name: string, query: Record<string, string>): Promise<ReportRun> {
    this.meter.reset();
    const started = performance.now();
    const result = await this.handler(reportEvent('/v1/reports/access-review', query));
    const ms = performance.now() - started;
    if (result.statusCode !== 200) throw new Error(`${name}: ${result.statusCode} ${result.body}`);
    const body = JSON.parse(result.body) as { agents: Array<{ requests: number }> };
    const covered = body.agents.reduce((sum, a) => sum + a.requests, 0);
    return this.finish(name, covered, [ms], ms);
  }

  private finish(name: string, returned: number, pageMs: number[], totalMs: number): ReportRun {
    const reading: MeterReading = this.meter.read();
    return {
      name,
      returned,
      read: reading.scanned,
      readUnits: reading.readUnits,
      queries: reading.calls.Query ?? 0,
      pages: pageMs.length,
      pageMs,
      totalMs,
    };
  }
}

/** A DynamoDB Local of its own, with the table, for the report data. */
export async function startReportTable() {
  // A generous start timeout, as the local stack gives it: on a busy machine the JVM is slow to start.
  const db = await startDynamoDbLocal({ inMemory: true, startTimeoutMs: 90_000 });
  const client = createLocalDynamoDbClient(db.endpoint);
  await ensureTable(client, TABLE);
  return { db, client, table: TABLE, agentSub };
}
