import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { type ActivityCounters, activityOf, type RecordedActivity } from '../core/activity.js';
import { CountersignError, DependencyError, FailClosedError } from '../core/errors.js';
import { countersMacInput, eventMacInput } from '../core/history.js';
import type { LinkedEvent } from '../core/model.js';
import type { EventStore, Mac } from '../core/ports.js';
import { dependencyFailure, keys } from './dynamodb-table.js';

/**
 * The linker's activity counters on the REQUEST item. The request store SETs only the request's own
 * fields on a state change, so these survive it; every name starts with `activity` so a reader (or
 * the store) can tell them from the request's fields.
 */
export const ACTIVITY_ATTRIBUTES = {
  calls: 'activityCalls',
  denied: 'activityDenied',
  unlinked: 'activityUnlinked',
  resources: 'activityResources',
  lastAt: 'activityLastAt',
} as const;

const ATTRIBUTE_NAMES: readonly string[] = Object.values(ACTIVITY_ATTRIBUTES);

/** The MAC over the counters (history.ts `countersMacInput`), written with them by each count. */
export const ACTIVITY_MAC_ATTRIBUTE = 'activityMac';

/** Bumped by every count: the condition that makes read-compute-sign-write one atomic count. */
const SEQ_ATTRIBUTE = 'activitySeq';
const MAX_COUNT_ATTEMPTS = 12;
/** What a count reads of the REQUEST item: the counters, their MAC and the sequence. */
const COUNT_READ: readonly string[] = [...ATTRIBUTE_NAMES, ACTIVITY_MAC_ATTRIBUTE, SEQ_ATTRIBUTE];

/** Reads the counters off a stored (unmarshalled) REQUEST item. */
export function countersOf(item: Record<string, unknown>): ActivityCounters {
  const count = (value: unknown) =>
    typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
  const resources = item[ACTIVITY_ATTRIBUTES.resources];
  const lastAt = item[ACTIVITY_ATTRIBUTES.lastAt];
  return {
    calls: count(item[ACTIVITY_ATTRIBUTES.calls]),
    denied: count(item[ACTIVITY_ATTRIBUTES.denied]),
    unlinked: count(item[ACTIVITY_ATTRIBUTES.unlinked]),
    resources: resources instanceof Set || Array.isArray(resources) ? [...resources].map(String).sort() : [],
    ...(typeof lastAt === 'string' ? { lastAt } : {}),
    ...(typeof item[ACTIVITY_MAC_ATTRIBUTE] === 'string'
      ? { mac: item[ACTIVITY_MAC_ATTRIBUTE] as string }
      : {}),
  };
}

/** Strips the table's bookkeeping from a stored EVENT item. */
export function fromEventItem(item: Record<string, unknown>): LinkedEvent {
  const { PK: _pk, SK: _sk, counted: _counted, ...event } = item;
  return event as unknown as LinkedEvent;
}

/** The most events `listEvents` returns (the workflow's Slack summary); the record has its own cap. */
const MAX_LIST_EVENTS = 2000;
/** A string set cannot take unbounded values: the longest resource an event may add. */
const MAX_RESOURCE_CHARS = 2048;

export class DynamoDbEventStore implements EventStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    /** The history key: when set, each event and the counters carry a MAC. @default none */
    private readonly mac?: Mac,
  ) {}

  /**
   * Stores the event once (conditional put on its `eventID`), then adds it to the request's counters
   * and marks it counted in one transaction. A delivery retried after a crash between the two finds
   * the event stored but not counted and counts it then; two deliveries of one event at once count it
   * once (the transaction's condition on `counted`), so the counters never exceed the events — an
   * honest record never reads "events may have been deleted". The evidence record itself counts the
   * stored events.
   */
  async putEvent(event: LinkedEvent): Promise<'stored' | 'duplicate'> {
    const key = keys.event(event.requestId, event.eventId);
    let result: 'stored' | 'duplicate' = 'stored';
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: marshall(
            { ...key, ...event, ...(this.mac ? { mac: await this.mac.sign(eventMacInput(event)) } : {}) },
            { removeUndefinedValues: true },
          ),
          ConditionExpression: 'attribute_not_exists(PK)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw dependencyFailure('store event', error);
      if ((await this.storedEvent(key, error.Item))?.counted === true) return 'duplicate';
      result = 'duplicate';
    }
    try {
      await this.count(event, key);
    } catch (error) {
      if (error instanceof CountersignError) throw error;
      throw dependencyFailure('count event', error);
    }
    return result;
  }

  /** The stored event: from the failed put's answer, or read when the service did not return it. */
  private async storedEvent(
    key: Record<string, string>,
    returned: Record<string, AttributeValue> | undefined,
  ): Promise<Record<string, unknown> | undefined> {
    if (returned) return unmarshall(returned);
    try {
      const out = await this.client.send(
        new GetItemCommand({ TableName: this.tableName, Key: marshall(key), ConsistentRead: true }),
      );
      return out.Item ? unmarshall(out.Item) : undefined;
    } catch (error) {
      throw dependencyFailure('read event', error);
    }
  }

  /**
   * Adds the event to the request's counters and MACs them in ONE conditional write: the counters
   * read (consistently), the new ones computed and signed, then written on condition nobody counted
   * in between (`activitySeq`, bumped by every count), retried on losing. A reviewer therefore never
   * sees counters and a MAC that disagree — counting and sealing in two writes left a window in which
   * an honest record read as tampered with. Many events of one request at once contend; each round
   * one wins, the others retry after a short random wait, and a linker that still loses throws
   * DependencyError, so its delivery is retried and the stored-but-uncounted event counted then.
   */
  private async count(event: LinkedEvent, eventKey: Record<string, string>): Promise<void> {
    const add = activityOf(event);
    const resources = add.resources.filter((r) => r.length <= MAX_RESOURCE_CHARS);
    const markCounted = {
      TableName: this.tableName,
      Key: marshall(eventKey),
      UpdateExpression: 'SET counted = :true',
      ConditionExpression: 'attribute_exists(PK) AND attribute_not_exists(counted)',
      ExpressionAttributeValues: marshall({ ':true': true }),
    };
    const markOnly = async () => {
      try {
        await this.client.send(new UpdateItemCommand(markCounted));
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    };
    if (add.calls + add.denied + add.unlinked === 0 && resources.length === 0 && !add.lastAt)
      return markOnly();
    const key = marshall(keys.request(event.requestId));
    for (let attempt = 0; attempt < MAX_COUNT_ATTEMPTS; attempt++) {
      const out = await this.client.send(
        new GetItemCommand({
          TableName: this.tableName,
          Key: key,
          ConsistentRead: true,
          ProjectionExpression: COUNT_READ.map((_, i) => `#a${i}`).join(', '),
          ExpressionAttributeNames: Object.fromEntries(COUNT_READ.map((name, i) => [`#a${i}`, name])),
        }),
      );
      // The request is gone (or never was): nothing to count, and never a bare REQUEST item.
      if (!out.Item) return markOnly();
      const item = unmarshall(out.Item);
      const seq = typeof item[SEQ_ATTRIBUTE] === 'number' ? (item[SEQ_ATTRIBUTE] as number) : 0;
      const old = countersOf(item);
      // Never sign over counters that no longer carry their MAC: a table writer who lowered them
      // (after deleting denied events) would otherwise have the next event launder the edit.
      if (this.mac && (seq > 0 || old.mac !== undefined || old.calls + old.denied + old.unlinked > 0)) {
        if (!old.mac || !(await this.mac.verify(countersMacInput(event.requestId, old), old.mac))) {
          throw new FailClosedError(
            `The activity counters of ${event.requestId} do not verify with the history key; they were not counted over. This is logged for review.`,
          );
        }
      }
      const next: ActivityCounters = {
        calls: old.calls + add.calls,
        denied: old.denied + add.denied,
        unlinked: old.unlinked + add.unlinked,
        resources: [...new Set([...old.resources, ...resources])].sort(),
        // A maximum, so late and out-of-order events never move it backwards.
        ...([old.lastAt, add.lastAt].some(Boolean)
          ? { lastAt: [old.lastAt ?? '', add.lastAt ?? ''].sort().at(-1)! }
          : {}),
      };
      const values: Record<string, unknown> = {
        ':calls': next.calls,
        ':denied': next.denied,
        ':unlinked': next.unlinked,
        ':next': seq + 1,
        ...(seq > 0 ? { ':seq': seq } : {}),
      };
      const sets = ['#calls = :calls', '#denied = :denied', '#unlinked = :unlinked', '#seq = :next'];
      if (next.resources.length > 0) {
        sets.push('#resources = :resources');
        values[':resources'] = new Set(next.resources);
      }
      if (next.lastAt) {
        sets.push('#lastAt = :lastAt');
        values[':lastAt'] = next.lastAt;
      }
      if (this.mac) {
        sets.push('#mac = :mac');
        values[':mac'] = await this.mac.sign(countersMacInput(event.requestId, next));
      }
      try {
        const counters = {
          TableName: this.tableName,
          Key: key,
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression:
            seq > 0
              ? 'attribute_exists(PK) AND #seq = :seq'
              : 'attribute_exists(PK) AND attribute_not_exists(#seq)',
          ExpressionAttributeNames: {
            '#calls': ACTIVITY_ATTRIBUTES.calls,
            '#denied': ACTIVITY_ATTRIBUTES.denied,
            '#unlinked': ACTIVITY_ATTRIBUTES.unlinked,
            '#seq': SEQ_ATTRIBUTE,
            ...(next.resources.length > 0 ? { '#resources': ACTIVITY_ATTRIBUTES.resources } : {}),
            ...(next.lastAt ? { '#lastAt': ACTIVITY_ATTRIBUTES.lastAt } : {}),
            ...(this.mac ? { '#mac': ACTIVITY_MAC_ATTRIBUTE } : {}),
          },
          ExpressionAttributeValues: marshall(values),
        };
        await this.client.send(
          new TransactWriteItemsCommand({ TransactItems: [{ Update: counters }, { Update: markCounted }] }),
        );
        return;
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        const [countersReason, eventReason] = error.CancellationReasons ?? [];
        // Another delivery of this event counted it meanwhile: once is enough.
        if (eventReason?.Code === 'ConditionalCheckFailed') return;
        if (countersReason?.Code !== 'ConditionalCheckFailed') throw error;
        await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * (attempt + 1)));
      }
    }
    throw new DependencyError(
      `The activity counters of ${event.requestId} changed under each of ${MAX_COUNT_ATTEMPTS} attempts to count an event; retry the delivery.`,
    );
  }

  async listEvents(requestId: string): Promise<LinkedEvent[]> {
    return (await this.queryEvents(requestId)).events;
  }

  async readActivity(requestId: string): Promise<RecordedActivity> {
    const { events, truncated } = await this.queryEvents(requestId);
    let counters: ActivityCounters | undefined;
    try {
      const out = await this.client.send(
        new GetItemCommand({
          TableName: this.tableName,
          Key: marshall(keys.request(requestId)),
          ConsistentRead: true,
          // The counters only: the rest of the REQUEST item is not needed here.
          ProjectionExpression: ATTRIBUTE_NAMES.map((_, i) => `#a${i}`).join(', '),
          ExpressionAttributeNames: Object.fromEntries(ATTRIBUTE_NAMES.map((name, i) => [`#a${i}`, name])),
        }),
      );
      if (out.Item) counters = countersOf(unmarshall(out.Item));
    } catch (error) {
      throw dependencyFailure('read activity counters', error);
    }
    return { events, truncated, ...(counters ? { counters } : {}) };
  }

  /** The request's events in time order: the first `MAX_LIST_EVENTS` read, and whether more exist. */
  private async queryEvents(requestId: string): Promise<{ events: LinkedEvent[]; truncated: boolean }> {
    const events: LinkedEvent[] = [];
    let truncated = false;
    try {
      let startKey: Record<string, AttributeValue> | undefined;
      do {
        const out = await this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: 'PK = :pk AND begins_with(SK, :sk)',
            ExpressionAttributeValues: marshall({ ':pk': keys.request(requestId).PK, ':sk': 'EVENT#' }),
            ExclusiveStartKey: startKey,
            Limit: Math.min(500, MAX_LIST_EVENTS - events.length),
          }),
        );
        for (const item of out.Items ?? []) events.push(fromEventItem(unmarshall(item)));
        startKey = out.LastEvaluatedKey;
      } while (startKey && events.length < MAX_LIST_EVENTS);
      // Stopped at the cap with a page left: one more look says whether anything was left out.
      if (startKey) {
        const more = await this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: 'PK = :pk AND begins_with(SK, :sk)',
            ExpressionAttributeValues: marshall({ ':pk': keys.request(requestId).PK, ':sk': 'EVENT#' }),
            ExclusiveStartKey: startKey,
            Limit: 1,
            Select: 'COUNT',
          }),
        );
        truncated = (more.Count ?? 0) > 0;
      }
    } catch (error) {
      throw dependencyFailure('list events', error);
    }
    events.sort((a, b) => (a.eventTime < b.eventTime ? -1 : a.eventTime > b.eventTime ? 1 : 0));
    return { events, truncated };
  }

  async findRequestByAccessKey(accessKeyId: string): Promise<string | undefined> {
    try {
      const out = await this.client.send(
        new GetItemCommand({ TableName: this.tableName, Key: marshall(keys.accessKey(accessKeyId)) }),
      );
      const requestId = out.Item ? unmarshall(out.Item).requestId : undefined;
      return typeof requestId === 'string' ? requestId : undefined;
    } catch (error) {
      throw dependencyFailure('find access key', error);
    }
  }
}
