import { type AttributeValue, type DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { TooManyRequestsInRangeError } from '../core/errors.js';
import type { MintedSession, RequestStatus } from '../core/model.js';
import type {
  ListFilter,
  ListPosition,
  NewestListing,
  PartitionItem,
  ReportReader,
  ReviewRow,
  StoredRequest,
} from '../core/report-reader.js';
import { daysOf } from '../core/reports.js';
import { ACTIVITY_ATTRIBUTES, countersOf, fromEventItem } from './dynamodb-events.js';
import { agentPartition, dependencyFailure, fromRequestItem, keys } from './dynamodb-table.js';
import { type IndexName, TABLE_DESIGN } from './table-design.js';

/**
 * The reports' and the request list's reads (docs/openapi.yaml): Query on the byAgent, byDay and byStatus indexes and on one request's
 * partition — never Scan — each paginated; the listings are bounded, so no report can turn into a
 * table walk, and an evidence record reads its own partition only.
 */

/** One listing call stops after this many Queries or examined items and hands back a cursor. */
const MAX_QUERIES_PER_CALL = 120;
const MAX_EXAMINED_PER_CALL = 1000;
const SESSION = 'SESSION#';
const EVENT = 'EVENT#';

type Item = Record<string, AttributeValue>;

/** A REQUEST item as the request (without keys or counters) and its counters. */
export function toStoredRequest(raw: Record<string, unknown>): StoredRequest {
  const activity = countersOf(raw);
  const request = { ...fromRequestItem(raw) } as unknown as Record<string, unknown>;
  for (const name of Object.values(ACTIVITY_ATTRIBUTES)) delete request[name];
  return { request: request as unknown as StoredRequest['request'], activity };
}

interface Partition {
  index: IndexName;
  pk: string;
  day?: string;
}

export class DynamoDbReports implements ReportReader {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async listRequests(
    filter: ListFilter,
    position: ListPosition | undefined,
    options: { storedStatuses?: readonly RequestStatus[]; accept: (request: StoredRequest) => boolean },
  ): Promise<{ items: StoredRequest[]; next?: ListPosition }> {
    const statuses = options.storedStatuses ?? [];
    if (!filter.agent && statuses.length > 0) {
      // A status filter over everyone reads the byStatus partitions of the statuses that can
      // read as the one asked for: only those items, not the whole range.
      const page = await this.listNewest({
        source: { statuses },
        from: filter.from,
        to: filter.to,
        ...(position?.after ? { after: position.after } : {}),
        limit: filter.limit,
        accept: options.accept,
      });
      return { items: page.items, ...(page.next ? { next: { after: page.next } } : {}) };
    }
    const partitions: Partition[] = filter.agent
      ? [{ index: 'byAgent', pk: agentPartition(filter.agent) }]
      : daysOf(filter.from, filter.to).map((day) => ({ index: 'byDay', pk: `DAY#${day}`, day }));
    const first = position?.day ? partitions.findIndex((p) => p.day === position.day) : 0;
    const items: StoredRequest[] = [];
    let queries = 0;
    let examined = 0;
    let after = position?.after;

    for (let i = Math.max(0, first); i < partitions.length; i++) {
      const partition = partitions[i]!;
      const { partitionKey, sortKey } = TABLE_DESIGN.indexes[partition.index];
      const here = (sk: string | undefined): ListPosition => ({
        ...(partition.day ? { day: partition.day } : {}),
        ...(sk ? { after: sk } : {}),
      });
      let startKey = after ? this.startKey(partition, after) : undefined;
      for (;;) {
        if (queries >= MAX_QUERIES_PER_CALL || examined >= MAX_EXAMINED_PER_CALL)
          return { items, next: here(after) };
        const out = await this.query({
          TableName: this.tableName,
          IndexName: partition.index,
          KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
          // Newest first. Each page is bounded: the caller's remaining limit, or 100 under a filter.
          ScanIndexForward: false,
          Limit: statuses.length > 0 ? 100 : Math.min(100, filter.limit - items.length),
          ...(statuses.length > 0
            ? { FilterExpression: `#status IN (${statuses.map((_, j) => `:s${j}`).join(', ')})` }
            : {}),
          ExpressionAttributeNames: {
            '#pk': partitionKey,
            '#sk': sortKey,
            ...(statuses.length > 0 ? { '#status': 'status' } : {}),
          },
          ExpressionAttributeValues: marshall({
            ':pk': partition.pk,
            ':from': filter.from,
            ':to': filter.to,
            ...Object.fromEntries(statuses.map((s, j) => [`:s${j}`, s])),
          }),
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        });
        queries += 1;
        examined += out.ScannedCount ?? out.Items?.length ?? 0;
        for (const item of out.Items ?? []) {
          const raw = unmarshall(item);
          after = String(raw[sortKey]);
          const stored = toStoredRequest(raw);
          if (!options.accept(stored)) continue;
          items.push(stored);
          if (items.length >= filter.limit) return { items, next: here(after) };
        }
        if (!out.LastEvaluatedKey) break;
        startKey = out.LastEvaluatedKey;
        after = String(unmarshall(out.LastEvaluatedKey)[sortKey]);
      }
      after = undefined;
    }
    return { items };
  }

  /**
   * Several index partitions that share one sort key (`<createdAt>#<id>`) read as one list, newest
   * first: a k-way merge that reads each partition a page at a time, only as far as the page needs.
   * Because the sort key is unique across partitions, one sort key (`after`) is the whole position.
   */
  async listNewest(listing: NewestListing): Promise<{ items: StoredRequest[]; next?: string }> {
    const partitions: Array<{ index: IndexName; pk: string }> =
      'agent' in listing.source
        ? [{ index: 'byAgent', pk: agentPartition(listing.source.agent) }]
        : listing.source.statuses.map((status) => ({ index: 'byStatus', pk: status }));
    const streams = partitions.map((partition) => ({
      partition,
      buffer: [] as Array<{ sk: string; raw: Record<string, unknown> }>,
      // Resuming: the position just past `after` in each partition. A key position need not be an
      // item of that partition (the request may sit in another status by now), and the sort key
      // is unique, so each partition resumes exactly where the merged list stopped.
      startKey: listing.after ? this.startKey(partition, listing.after) : undefined,
      done: false,
    }));
    const items: StoredRequest[] = [];
    let queries = 0;
    let examined = 0;
    let after = listing.after;
    for (;;) {
      for (const stream of streams) {
        while (stream.buffer.length === 0 && !stream.done) {
          if (queries >= MAX_QUERIES_PER_CALL || examined >= MAX_EXAMINED_PER_CALL) {
            return { items, ...(after ? { next: after } : {}) };
          }
          const { partitionKey, sortKey } = TABLE_DESIGN.indexes[stream.partition.index];
          const need = listing.limit - items.length;
          const out = await this.query({
            TableName: this.tableName,
            IndexName: stream.partition.index,
            KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
            ScanIndexForward: false,
            // Each partition is asked for what the page still needs (spread over the partitions on
            // the first read), so a page reads little more than it returns.
            Limit: Math.max(
              1,
              Math.min(100, listing.after || queries > 0 ? need : Math.ceil(need / streams.length)),
            ),
            ExpressionAttributeNames: { '#pk': partitionKey, '#sk': sortKey },
            ExpressionAttributeValues: marshall({
              ':pk': stream.partition.pk,
              ':from': listing.from,
              ':to': listing.to,
            }),
            ...(stream.startKey ? { ExclusiveStartKey: stream.startKey } : {}),
          });
          queries += 1;
          examined += out.ScannedCount ?? out.Items?.length ?? 0;
          for (const item of out.Items ?? []) {
            const raw = unmarshall(item);
            // Only REQUEST items belong in these indexes; anything else is skipped, never shown.
            if (raw.SK === 'REQUEST') stream.buffer.push({ sk: String(raw[sortKey]), raw });
          }
          stream.startKey = out.LastEvaluatedKey;
          if (!out.LastEvaluatedKey) stream.done = true;
        }
      }
      let newest: (typeof streams)[number] | undefined;
      for (const stream of streams) {
        const head = stream.buffer[0];
        if (head && (!newest || head.sk > newest.buffer[0]!.sk)) newest = stream;
      }
      if (!newest) return { items };
      const { sk, raw } = newest.buffer.shift()!;
      after = sk;
      const stored = toStoredRequest(raw);
      if (!listing.accept(stored)) continue;
      items.push(stored);
      if (items.length >= listing.limit) return { items, next: after };
    }
  }

  /** The index position just after `after` (`<createdAt>#<id>`): index keys plus the table's keys. */
  private startKey(partition: { index: IndexName; pk: string }, after: string): Item {
    const { partitionKey, sortKey } = TABLE_DESIGN.indexes[partition.index];
    const id = after.slice(after.lastIndexOf('#') + 1);
    return marshall({ [partitionKey]: partition.pk, [sortKey]: after, ...keys.request(id) });
  }

  /**
   * The whole partition of one request, a database page (1 MB) at a time: sessions, the request,
   * then events (descending sort key), never the task token. Nothing is capped here: the caller
   * keeps one page of the record and checks the rest as it streams by.
   */
  async *evidenceItems(id: string): AsyncGenerator<PartitionItem> {
    let startKey: Item | undefined;
    do {
      const out = await this.query({
        TableName: this.tableName,
        // `SK < TOKEN` leaves the Step Functions task token out of the read altogether.
        KeyConditionExpression: 'PK = :pk AND SK < :token',
        ExpressionAttributeValues: marshall({ ':pk': keys.request(id).PK, ':token': 'TOKEN' }),
        ScanIndexForward: false,
        ConsistentRead: true,
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      });
      for (const item of out.Items ?? []) {
        const value = unmarshall(item);
        const sk = String(value.SK);
        if (sk === 'REQUEST') yield { kind: 'request', stored: toStoredRequest(value) };
        else if (sk.startsWith(SESSION)) {
          const { PK: _pk, SK: _sk, ...session } = value;
          yield { kind: 'session', key: sk.slice(SESSION.length), session: session as MintedSession };
        } else if (sk.startsWith(EVENT)) {
          yield { kind: 'event', key: sk.slice(EVENT.length), event: fromEventItem(value) };
        }
      }
      startKey = out.LastEvaluatedKey;
    } while (startKey);
  }

  async reviewRows(from: string, to: string, max: number): Promise<ReviewRow[]> {
    const rows: ReviewRow[] = [];
    const { partitionKey, sortKey } = TABLE_DESIGN.indexes.byDay;
    // What the review reads of each request: not its history, reason or context.
    const fields = [
      'id',
      'status',
      'requester',
      'createdAt',
      'resource',
      'actions',
      'policy',
      'decisions',
      'grant',
      'outcome',
      'refusals',
      ...Object.values(ACTIVITY_ATTRIBUTES),
    ];
    const names = Object.fromEntries(fields.map((f, i) => [`#a${i}`, f]));
    for (const day of daysOf(from, to)) {
      let startKey: Item | undefined;
      do {
        const out = await this.query({
          TableName: this.tableName,
          IndexName: 'byDay',
          KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
          ProjectionExpression: Object.keys(names).join(', '),
          ExpressionAttributeNames: { '#pk': partitionKey, '#sk': sortKey, ...names },
          ExpressionAttributeValues: marshall({ ':pk': `DAY#${day}`, ':from': from, ':to': to }),
          Limit: 500,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        });
        for (const item of out.Items ?? []) {
          const { request, activity } = toStoredRequest(unmarshall(item));
          rows.push({ request, activity });
          if (rows.length > max) throw new TooManyRequestsInRangeError(max);
        }
        startKey = out.LastEvaluatedKey;
      } while (startKey);
    }
    return rows;
  }

  private async query(input: ConstructorParameters<typeof QueryCommand>[0]) {
    try {
      return await this.client.send(new QueryCommand(input));
    } catch (error) {
      throw dependencyFailure('report query', error);
    }
  }
}
