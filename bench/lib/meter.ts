import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** Operations that accept ReturnConsumedCapacity, and whether DynamoDB bills them as reads. */
const OPERATIONS: Record<string, 'read' | 'write'> = {
  GetItemCommand: 'read',
  BatchGetItemCommand: 'read',
  QueryCommand: 'read',
  ScanCommand: 'read',
  TransactGetItemsCommand: 'read',
  PutItemCommand: 'write',
  UpdateItemCommand: 'write',
  DeleteItemCommand: 'write',
  BatchWriteItemCommand: 'write',
  TransactWriteItemsCommand: 'write',
};

type Capacity = { CapacityUnits?: number } | Array<{ CapacityUnits?: number }> | undefined;

export interface MeterReading {
  /** Read request units (strongly consistent reads count 1 per 4 KB, as DynamoDB reports them). */
  readUnits: number;
  writeUnits: number;
  calls: Record<string, number>;
  /** Items DynamoDB examined for Query/Scan, and items it returned. */
  scanned: number;
  returned: number;
}

/**
 * Counts what a DynamoDB client consumed, from DynamoDB's own `ConsumedCapacity` (asked for on every
 * call while attached) and `ScannedCount`/`Count`. Attach it only around what is being counted: the
 * extra response field is small, but the latency benchmarks run without it.
 */
export class DynamoMeter {
  private reading: MeterReading = DynamoMeter.empty();
  private readonly name = `benchMeter${Math.random().toString(36).slice(2)}`;

  private static empty(): MeterReading {
    return { readUnits: 0, writeUnits: 0, calls: {}, scanned: 0, returned: 0 };
  }

  attach(client: DynamoDBClient): () => void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const kind = OPERATIONS[context.commandName ?? ''];
        const input = args.input as { ReturnConsumedCapacity?: string };
        if (kind) input.ReturnConsumedCapacity ??= 'TOTAL';
        const out = await next(args);
        const output = out.output as { ConsumedCapacity?: Capacity; ScannedCount?: number; Count?: number };
        const name = (context.commandName ?? 'unknown').replace(/Command$/, '');
        this.reading.calls[name] = (this.reading.calls[name] ?? 0) + 1;
        const capacity = output.ConsumedCapacity;
        const units = (Array.isArray(capacity) ? capacity : capacity ? [capacity] : []).reduce(
          (sum, c) => sum + (c.CapacityUnits ?? 0),
          0,
        );
        if (kind === 'read') this.reading.readUnits += units;
        else if (kind === 'write') this.reading.writeUnits += units;
        if (typeof output.ScannedCount === 'number') this.reading.scanned += output.ScannedCount;
        if (typeof output.Count === 'number') this.reading.returned += output.Count;
        return out;
      },
      { step: 'initialize', name: this.name },
    );
    return () => {
      client.middlewareStack.remove(this.name);
    };
  }

  reset(): void {
    this.reading = DynamoMeter.empty();
  }

  read(): MeterReading {
    return { ...this.reading, calls: { ...this.reading.calls } };
  }
}
