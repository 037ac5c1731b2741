import { Agent, request } from 'node:http';
import {
  type Authorization,
  AwsError,
  type AwsService,
  jsonBody,
  jsonProtocol,
  type ParsedCall,
  type ServiceAnswer,
  type ServiceEnvironment,
  targetOperation,
  unknownOperation,
} from './service.js';

/**
 * DynamoDB (JSON 1.0, `X-Amz-Target: DynamoDB_20120810.*`): authorized here on the table (or index)
 * ARN, then forwarded to DynamoDB Local as the JSON that was authorized. Item operations are CloudTrail data events.
 * PartiQL is refused: its statements would have to be parsed to know which table and action they need.
 */

const PREFIX = 'DynamoDB_20120810';
const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;

/** Item-level operations: CloudTrail data events, authorized per table. */
const DATA_OPERATIONS = new Set([
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'Query',
  'Scan',
  'BatchGetItem',
  'BatchWriteItem',
  'TransactGetItems',
  'TransactWriteItems',
]);
/** Control-plane operations on one table named by `TableName`. */
const TABLE_OPERATIONS = new Set([
  'CreateTable',
  'DeleteTable',
  'DescribeTable',
  'UpdateTable',
  'DescribeTimeToLive',
  'UpdateTimeToLive',
  'DescribeContinuousBackups',
  'UpdateContinuousBackups',
]);
/** Operations on no particular table (IAM resource `*`). */
const ACCOUNT_OPERATIONS = new Set(['ListTables', 'DescribeLimits', 'DescribeEndpoints']);
const REFUSED = new Set(['ExecuteStatement', 'BatchExecuteStatement', 'ExecuteTransaction']);

/** TransactWriteItems needs the per-item action on each table, as on AWS. */
const TRANSACT_WRITE_ACTIONS: Record<string, string> = {
  Put: 'dynamodb:PutItem',
  Update: 'dynamodb:UpdateItem',
  Delete: 'dynamodb:DeleteItem',
  ConditionCheck: 'dynamodb:ConditionCheckItem',
};

export interface DynamoDbServiceOptions {
  /** DynamoDB Local's URL. */
  readonly endpoint: string;
  /**
   * Partition key name per table name, for the `dynamodb:LeadingKeys` condition key. Tables created
   * through this endpoint are learnt from their CreateTable; others are registered by whoever
   * creates them (the local stack, as CloudFormation). Unknown tables carry no LeadingKeys.
   */
  readonly partitionKeys: Map<string, string>;
}

/** The value of an item's partition key as IAM sees it in `dynamodb:LeadingKeys`. */
function leadingKey(item: unknown, partitionKey: string | undefined): string | undefined {
  if (!partitionKey || typeof item !== 'object' || item === null) return undefined;
  const attribute = (item as Record<string, unknown>)[partitionKey];
  if (typeof attribute !== 'object' || attribute === null) return undefined;
  const scalar = (attribute as Record<string, unknown>).S ?? (attribute as Record<string, unknown>).N;
  return typeof scalar === 'string' ? scalar : undefined;
}

export function createDynamoDbService(env: ServiceEnvironment, options: DynamoDbServiceOptions): AwsService {
  const target = new URL(options.endpoint);
  // Keep-alive: the hop to DynamoDB Local is what this endpoint adds to every item call.
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const forward = (operation: string, body: Buffer, date: string) =>
    new Promise<{ status: number; body: Buffer; crc?: string }>((resolve, reject) => {
      const req = request(
        {
          host: target.hostname,
          port: target.port,
          method: 'POST',
          path: '/',
          agent,
          headers: {
            'content-type': 'application/x-amz-json-1.0',
            'content-length': body.length,
            'x-amz-target': `${PREFIX}.${operation}`,
            'x-amz-date': date,
            // DynamoDB Local (-sharedDb) checks that a credential is present, not what it is.
            authorization: `AWS4-HMAC-SHA256 Credential=local/${date.slice(0, 8)}/${env.region}/dynamodb/aws4_request, SignedHeaders=host, Signature=0`,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const crc = res.headers['x-amz-crc32'];
            resolve({
              status: res.statusCode ?? 500,
              body: Buffer.concat(chunks),
              ...(typeof crc === 'string' ? { crc } : {}),
            });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const tableArn = (name: string, region: string) => {
    if (name.startsWith('arn:')) return name;
    if (!TABLE_NAME.test(name)) throw new AwsError('ValidationException', 400, `Invalid table name: ${name}`);
    return `arn:aws:dynamodb:${region}:${env.account}:table/${name}`;
  };
  const nameOf = (value: unknown, field = 'TableName'): string => {
    if (typeof value !== 'string' || value === '') {
      throw new AwsError(
        'ValidationException',
        400,
        `1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`,
      );
    }
    return value;
  };

  return {
    ...jsonProtocol('dynamodb', PREFIX, '1.0'),
    parse(request): ParsedCall {
      const operation = targetOperation(request, PREFIX);
      if (REFUSED.has(operation)) {
        throw new AwsError(
          'UnknownOperationException',
          400,
          `${operation} (PartiQL) is not emulated by the local AWS`,
        );
      }
      const data = DATA_OPERATIONS.has(operation);
      const body = jsonBody(request);
      // Any other operation on one table (CreateBackup, DescribeKinesisStreamingDestination, …) is
      // authorized as `dynamodb:<Operation>` on that table; one naming no table is refused.
      const tableLevel =
        TABLE_OPERATIONS.has(operation) ||
        (/^[A-Z][A-Za-z]{2,64}$/.test(operation) && typeof body.TableName === 'string');
      if (!data && !tableLevel && !ACCOUNT_OPERATIONS.has(operation)) {
        throw unknownOperation(operation);
      }
      const action = `dynamodb:${operation}`;
      const authorizations: Authorization[] = [];
      const tables = new Set<string>();
      const add = (act: string, name: string, index?: unknown) => {
        const arn = tableArn(name, request.region);
        tables.add(arn);
        authorizations.push({
          action: act,
          resource: typeof index === 'string' && index !== '' ? `${arn}/index/${index}` : arn,
        });
      };
      const params: Record<string, unknown> = {};
      if (operation === 'BatchGetItem' || operation === 'BatchWriteItem') {
        const items = body.RequestItems;
        if (typeof items !== 'object' || items === null || Object.keys(items).length === 0) {
          throw new AwsError('ValidationException', 400, 'RequestItems must not be empty');
        }
        for (const name of Object.keys(items)) add(action, name);
        params.requestItems = Object.keys(items).map((tableName) => ({ tableName }));
      } else if (operation === 'TransactGetItems' || operation === 'TransactWriteItems') {
        const items = body.TransactItems;
        if (!Array.isArray(items) || items.length === 0)
          throw new AwsError('ValidationException', 400, 'TransactItems must not be empty');
        const names: string[] = [];
        for (const item of items as Array<Record<string, Record<string, unknown>>>) {
          const kinds = Object.keys(item ?? {});
          if (kinds.length !== 1)
            throw new AwsError(
              'ValidationException',
              400,
              'Each TransactItem must name exactly one operation',
            );
          const kind = kinds[0] as string;
          const perItem =
            operation === 'TransactGetItems'
              ? kind === 'Get'
                ? 'dynamodb:GetItem'
                : undefined
              : TRANSACT_WRITE_ACTIONS[kind];
          if (!perItem) throw new AwsError('ValidationException', 400, `Unknown TransactItem ${kind}`);
          const name = nameOf(item[kind]?.TableName, `TransactItems.${kind}.TableName`);
          add(perItem, name);
          names.push(name);
        }
        params.transactItems = names.map((tableName) => ({ tableName }));
      } else if (ACCOUNT_OPERATIONS.has(operation)) {
        authorizations.push({ action, resource: '*' });
      } else {
        const name = nameOf(body.TableName);
        add(action, name, operation === 'Query' || operation === 'Scan' ? body.IndexName : undefined);
        // dynamodb:LeadingKeys for single-item calls on a table whose partition key is known.
        const leading = leadingKey(
          operation === 'PutItem'
            ? body.Item
            : ['GetItem', 'DeleteItem', 'UpdateItem'].includes(operation)
              ? body.Key
              : undefined,
          options.partitionKeys.get(name),
        );
        if (leading !== undefined) {
          const last = authorizations.pop()!;
          authorizations.push({ ...last, context: new Map([['dynamodb:leadingkeys', [leading]]]) });
        }
        if (operation === 'CreateTable' && Array.isArray(body.KeySchema)) {
          const hash = (body.KeySchema as Array<{ AttributeName?: unknown; KeyType?: unknown }>).find(
            (k) => k.KeyType === 'HASH',
          );
          if (typeof hash?.AttributeName === 'string') options.partitionKeys.set(name, hash.AttributeName);
        }
        params.tableName = name;
        if (typeof body.IndexName === 'string') params.indexName = body.IndexName;
        // Keys name which item; they are not item values. Everything else (items, values) stays out.
        if (
          body.Key !== undefined &&
          (operation === 'GetItem' || operation === 'DeleteItem' || operation === 'UpdateItem')
        )
          params.key = body.Key;
      }
      return {
        operation,
        authorizations,
        requestParameters: params,
        readOnly: /^(Get|List|Describe|Query|Scan|BatchGet|TransactGet)/.test(operation),
        managementEvent: !data,
        resources: [...tables].map((ARN) => ({ type: 'AWS::DynamoDB::Table', ARN })),
        // What was authorized is what DynamoDB Local gets: the parsed body, serialized again, so a
        // duplicate key (`"TableName"` twice) cannot be read one way here and another way there.
        input: { operation, body: Buffer.from(JSON.stringify(body)) },
      };
    },
    async serve(call, ctx): Promise<ServiceAnswer> {
      const { body } = call.input as { operation: string; body: Buffer };
      const date = ctx.now.toISOString().replace(/[-:]|\.\d{3}/g, '');
      let response: { status: number; body: Buffer; crc?: string };
      try {
        response = await forward(call.operation, body, date);
      } catch (error) {
        env.log(`local aws: DynamoDB Local did not answer: ${(error as Error).message}`);
        throw new AwsError('InternalServerError', 500, 'DynamoDB Local did not answer');
      }
      const text = response.body;
      const headers: Record<string, string> = {
        'content-type': 'application/x-amz-json-1.0',
        'x-amzn-requestid': ctx.requestId,
      };
      if (response.crc) headers['x-amz-crc32'] = response.crc;
      if (response.status >= 400) {
        let code = 'InternalServerError';
        let message = '';
        try {
          const parsed = JSON.parse(text.toString('utf8')) as {
            __type?: string;
            message?: string;
            Message?: string;
          };
          code = String(parsed.__type ?? code)
            .split('#')
            .pop() as string;
          message = String(parsed.message ?? parsed.Message ?? '');
        } catch {
          // not JSON: keep the generic code
        }
        return {
          status: response.status,
          headers,
          body: text,
          errorCode: code,
          errorMessage: message,
          responseElements: null,
        };
      }
      return { status: response.status, headers, body: text, responseElements: null };
    },
  };
}
