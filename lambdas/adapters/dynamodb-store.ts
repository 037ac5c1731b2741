import {
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type UpdateItemCommandInput,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { ConditionFailedError, FailClosedError } from '../core/errors.js';
import { assertExtendable, sealHistory, sessionMacInput } from '../core/history.js';
import type { AccessRequest, MintedSession, RequestStatus } from '../core/model.js';
import type { Mac, RequestStore } from '../core/ports.js';
import { dependencyFailure, fromRequestItem, keys, toItem } from './dynamodb-table.js';

/**
 * The request store on the single table (RequestStore): requests, idempotency keys, task tokens,
 * minted sessions, leases and rate counters. The table's item layout lives in dynamodb-table.ts and
 * the revocation ledger in dynamodb-revocation-ledger.ts.
 */

/** How long idempotency records are kept: agents retry within minutes, a day is generous. */
const IDEMPOTENCY_TTL_SECONDS = 86_400;

export interface RequestStoreOptions {
  /**
   * The history key: when set, every history entry written gets its keyed link and every minted
   * session its MAC (history.ts), which the evidence record verifies.
   * @default none (unkeyed; the evidence record then reports the history as not keyed)
   */
  readonly mac?: Mac;
}

/**
 * Whether `next` is built on exactly the state this store wrote: the version it was written with,
 * and its history continuing that state's history entry for entry (not just the same version).
 */
function extendsWritten(
  written: AccessRequest | undefined,
  next: AccessRequest,
  expectedVersion: number,
): boolean {
  if (!written || written.version !== expectedVersion) return false;
  const mine = written.history ?? [];
  const theirs = next.history ?? [];
  return mine.length > 0 && mine.length <= theirs.length && mine.every((e, i) => theirs[i]?.hash === e.hash);
}

/**
 * The UpdateItem of a state change: SET every field of the request (not a put of the whole item, so
 * attributes other writers own on the same item — the linker's activity counters — survive it), on
 * condition of the version read and the transition's allowed statuses. The benchmarks' raw floors
 * send exactly this.
 */
export function replaceRequestInput(
  tableName: string,
  next: AccessRequest,
  condition: { expectedVersion: number; from: readonly RequestStatus[] },
): UpdateItemCommandInput {
  const { PK: _pk, SK: _sk, ...fields } = unmarshall(toItem(next));
  const names: Record<string, string> = { '#version': 'version', '#status': 'status' };
  const values: Record<string, unknown> = { ':expected': condition.expectedVersion };
  const sets: string[] = [];
  Object.entries(fields).forEach(([field, value], i) => {
    names[`#f${i}`] = field;
    values[`:f${i}`] = value;
    sets.push(`#f${i} = :f${i}`);
  });
  condition.from.forEach((s, i) => {
    values[`:s${i}`] = s;
  });
  return {
    TableName: tableName,
    Key: marshall(keys.request(next.id)),
    UpdateExpression: `SET ${sets.join(', ')}`,
    // Optimistic concurrency: the version pins the exact state the caller decided from, and the
    // status list states the transition's precondition explicitly for readers of the log.
    ConditionExpression: `#version = :expected AND #status IN (${condition.from.map((_, i) => `:s${i}`).join(', ')})`,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: marshall(values, { removeUndefinedValues: true }),
  };
}

export class DynamoDbRequestStore implements RequestStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly options: RequestStoreOptions = {},
  ) {}

  /**
   * The requests this store last read, so that `replace` can check the state a change was decided
   * from without reading it again (a state change reads, decides, then replaces on that version).
   */
  private readonly lastRead = new Map<string, AccessRequest>();

  /**
   * The states this store itself wrote (sealed), by id. A change built on one of them needs no
   * read and no check before it is written: its facts are the ones this process sealed, and the next
   * write SETs every field from them, so an edit made in the table meanwhile is overwritten, never
   * extended (and any field it added is left for the evidence check to find).
   */
  private readonly lastWritten = new Map<string, AccessRequest>();

  private remember(request: AccessRequest, cache = this.lastRead): void {
    cache.delete(request.id);
    cache.set(request.id, request);
    if (cache.size > 200) cache.delete(cache.keys().next().value!);
  }

  /** The request with its history's keyed links added (see RequestStoreOptions.mac). */
  private async sealed(request: AccessRequest): Promise<AccessRequest> {
    const { mac } = this.options;
    if (!mac || !request.history) return request;
    return { ...request, history: await sealHistory(request.id, request.history, mac) };
  }

  async create(
    request: AccessRequest,
    idempotency?: { agentKey: string; key: string; bodyHash: string },
  ): Promise<void> {
    const requestPut = {
      TableName: this.tableName,
      Item: toItem(await this.sealed(request)),
      ConditionExpression: 'attribute_not_exists(PK)',
    };
    try {
      if (!idempotency) {
        await this.client.send(new PutItemCommand(requestPut));
        return;
      }
      // The request and its idempotency record are written together or not at all, so a retry
      // never finds a key that points at nothing, nor a request that a retry could duplicate.
      await this.client.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Put: requestPut },
            {
              Put: {
                TableName: this.tableName,
                Item: marshall({
                  ...keys.idempotency(idempotency.agentKey, idempotency.key),
                  requestId: request.id,
                  bodyHash: idempotency.bodyHash,
                  expiresAt: Math.floor(Date.parse(request.createdAt) / 1000) + IDEMPOTENCY_TTL_SECONDS,
                }),
                ConditionExpression: 'attribute_not_exists(PK)',
              },
            },
          ],
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw new ConditionFailedError('request exists');
      if (error instanceof TransactionCanceledException) {
        const reasons = error.CancellationReasons ?? [];
        if (reasons.some((r) => r.Code === 'ConditionalCheckFailed')) {
          throw new ConditionFailedError('idempotency key already used', { cause: error });
        }
      }
      throw dependencyFailure('create', error);
    }
  }

  async get(id: string, options?: { consistent?: boolean }): Promise<AccessRequest | undefined> {
    // What is read now is what a change will be built on: only a state nobody read since this store
    // wrote it may skip the check before the next write (lastWritten).
    this.lastWritten.delete(id);
    try {
      const out = await this.client.send(
        new GetItemCommand({
          TableName: this.tableName,
          Key: marshall(keys.request(id)),
          ConsistentRead: options?.consistent ?? true,
        }),
      );
      const request = out.Item ? fromRequestItem(unmarshall(out.Item)) : undefined;
      if (request && this.options.mac) this.remember(request);
      return request;
    } catch (error) {
      throw dependencyFailure('get', error);
    }
  }

  async findIdempotent(
    agentKey: string,
    key: string,
  ): Promise<{ requestId: string; bodyHash: string } | undefined> {
    try {
      const out = await this.client.send(
        new GetItemCommand({
          TableName: this.tableName,
          Key: marshall(keys.idempotency(agentKey, key)),
          ConsistentRead: true,
        }),
      );
      if (!out.Item) return undefined;
      const item = unmarshall(out.Item);
      return { requestId: String(item.requestId), bodyHash: String(item.bodyHash) };
    } catch (error) {
      throw dependencyFailure('idempotency lookup', error);
    }
  }

  async releaseIdempotency(agentKey: string, key: string, requestId: string): Promise<void> {
    try {
      await this.client.send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: marshall(keys.idempotency(agentKey, key)),
          // Only the record this request made: never a newer one a retry already wrote.
          ConditionExpression: 'requestId = :id',
          ExpressionAttributeValues: marshall({ ':id': requestId }),
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return;
      throw dependencyFailure('release idempotency key', error);
    }
  }

  async replace(
    next: AccessRequest,
    condition: { expectedVersion: number; from: readonly RequestStatus[] },
  ): Promise<void> {
    // SET every field of the request rather than putting the whole item: attributes other writers
    // own on the same item (the linker's activity counters) survive a state change.
    const written = this.lastWritten.get(next.id);
    if (this.options.mac && !extendsWritten(written, next, condition.expectedVersion)) {
      // Never extend a history whose stored facts were edited outside Countersign (see assertExtendable).
      // The version condition below makes sure the write lands on exactly this state.
      const cached = this.lastRead.get(next.id);
      const stored =
        cached?.version === condition.expectedVersion
          ? cached
          : await this.get(next.id, { consistent: true });
      if (stored && stored.version === condition.expectedVersion) {
        const verdict = await assertExtendable(stored, this.options.mac);
        if (!verdict.valid) {
          throw new FailClosedError(
            'The stored request does not match its keyed history; nothing was changed. This is logged for review.',
            { details: { requestId: next.id, problem: verdict.problem } },
          );
        }
      }
    }
    const sealed = await this.sealed(next);
    try {
      await this.client.send(new UpdateItemCommand(replaceRequestInput(this.tableName, sealed, condition)));
      this.remember(sealed, this.lastWritten);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        throw new ConditionFailedError(`request ${next.id} changed meanwhile`, { cause: error });
      }
      throw dependencyFailure('update', error);
    }
  }

  async putTaskToken(requestId: string, token: string): Promise<void> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: marshall({ ...keys.token(requestId), token }),
        }),
      );
    } catch (error) {
      throw dependencyFailure('store task token', error);
    }
  }

  async getTaskToken(requestId: string): Promise<string | undefined> {
    try {
      const out = await this.client.send(
        new GetItemCommand({
          TableName: this.tableName,
          Key: marshall(keys.token(requestId)),
          ConsistentRead: true,
        }),
      );
      return out.Item ? String(unmarshall(out.Item).token) : undefined;
    } catch (error) {
      throw dependencyFailure('read task token', error);
    }
  }

  async putSession(session: MintedSession, ttlEpochSeconds: number): Promise<void> {
    const { mac } = this.options;
    const sealed = mac ? { ...session, mac: await mac.sign(sessionMacInput(session)) } : session;
    const writes: WriteRequest[] = [
      {
        PutRequest: {
          Item: marshall({ ...keys.session(session.requestId, session.accessKeyId), ...sealed }),
        },
      },
      // The linker joins CloudTrail events to requests through this item; it outlives the session
      // by the TTL so that CloudTrail's late deliveries (minutes, sometimes hours) still link.
      {
        PutRequest: {
          Item: marshall({
            ...keys.accessKey(session.accessKeyId),
            requestId: session.requestId,
            expiresAt: ttlEpochSeconds,
          }),
        },
      },
    ];
    try {
      let pending: Record<string, WriteRequest[]> | undefined = { [this.tableName]: writes };
      for (let attempt = 0; pending && Object.keys(pending).length > 0; attempt++) {
        if (attempt === 5) throw new Error('unprocessed items after 5 attempts');
        if (attempt > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
        const out: { UnprocessedItems?: Record<string, WriteRequest[]> } = await this.client.send(
          new BatchWriteItemCommand({ RequestItems: pending }),
        );
        pending = out.UnprocessedItems;
      }
    } catch (error) {
      throw dependencyFailure('record session', error);
    }
  }

  async listSessions(requestId: string): Promise<MintedSession[]> {
    try {
      const sessions: MintedSession[] = [];
      let startKey: Record<string, import('@aws-sdk/client-dynamodb').AttributeValue> | undefined;
      do {
        const out = await this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: 'PK = :pk AND begins_with(SK, :sk)',
            ExpressionAttributeValues: marshall({ ':pk': `REQ#${requestId}`, ':sk': 'SESSION#' }),
            ExclusiveStartKey: startKey,
            ConsistentRead: true,
          }),
        );
        for (const item of out.Items ?? []) {
          const { PK: _pk, SK: _sk, ...session } = unmarshall(item);
          sessions.push(session as MintedSession);
        }
        startKey = out.LastEvaluatedKey;
      } while (startKey);
      return sessions;
    } catch (error) {
      throw dependencyFailure('list sessions', error);
    }
  }

  async acquireLease(
    name: string,
    slots: number,
    holder: string,
    untilMs: number,
    nowMs: number,
  ): Promise<number | undefined> {
    for (let slot = 0; slot < slots; slot++) {
      try {
        await this.client.send(
          new PutItemCommand({
            TableName: this.tableName,
            Item: marshall({
              ...keys.lease(name, slot),
              holder,
              until: untilMs,
              expiresAt: Math.ceil(untilMs / 1000) + 3600,
            }),
            // Free: never taken, released (deleted), or run out (a crashed holder).
            ConditionExpression: 'attribute_not_exists(PK) OR #until < :now',
            ExpressionAttributeNames: { '#until': 'until' },
            ExpressionAttributeValues: marshall({ ':now': nowMs }),
          }),
        );
        return slot;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) continue;
        throw dependencyFailure('take lease', error);
      }
    }
    return undefined;
  }

  async releaseLease(name: string, slot: number, holder: string): Promise<void> {
    try {
      await this.client.send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: marshall(keys.lease(name, slot)),
          ConditionExpression: 'holder = :holder',
          ExpressionAttributeValues: marshall({ ':holder': holder }),
        }),
      );
    } catch (error) {
      // Someone took it over after it ran out: it is theirs now.
      if (error instanceof ConditionalCheckFailedException) return;
      throw dependencyFailure('release lease', error);
    }
  }

  async countRequest(agentKey: string, minute: string, ttlEpochSeconds: number): Promise<number> {
    try {
      const out = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: marshall(keys.rate(agentKey, minute)),
          UpdateExpression: 'ADD #count :one SET expiresAt = :ttl',
          ExpressionAttributeNames: { '#count': 'count' },
          ExpressionAttributeValues: marshall({ ':one': 1, ':ttl': ttlEpochSeconds }),
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      return Number(out.Attributes ? unmarshall(out.Attributes).count : 1);
    } catch (error) {
      throw dependencyFailure('rate count', error);
    }
  }
}
