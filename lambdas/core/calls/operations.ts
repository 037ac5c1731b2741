import type { Arn } from '../arn.js';
import { ValidationError } from '../errors.js';

/**
 * The API operations an exact call may be (DESIGN.md §4 "Exact calls"), and for each one how its
 * input is held to the requested resource. An operation is accepted only when:
 *
 * - the request's one action is the operation's IAM action, and the ARN is of the resource type the
 *   operation acts on (a table, an object, a queue…);
 * - every input field is on the operation's allow-list. Fields that reach another resource (S3
 *   `CopySource`, SNS `TargetArn`, an SSM `KeyId`), need another IAM action (S3 `VersionId`, `ACL`,
 *   `Tagging`) or change where the answer goes (S3 `WebsiteRedirectLocation`) are simply not on it,
 *   so anything not named here is refused — fail closed as new API fields appear;
 * - the fields that name the resource (`TableName`, `Bucket` + `Key`, `QueueUrl`, `TopicArn`,
 *   `FunctionName`, `SecretId`, `Name`) name exactly the requested ARN.
 *
 * Every refusal is a ValidationError with `details.field` `call` and `details.inputField` naming the
 * input field at fault. The session that makes the call allows only the action on the ARN, so these
 * checks are the first line, and IAM the second.
 */

export interface OperationSpec {
  /** The API operation, e.g. `PutItem`. */
  readonly operation: string;
  /** The IAM action the call needs, e.g. `dynamodb:PutItem` (the request's one action). */
  readonly action: string;
  /** The input fields that name the resource, checked by `target`. */
  readonly names: readonly string[];
  /** Input fields allowed besides `names`. */
  readonly allowed: readonly string[];
  /** Checks the resource-naming fields against the ARN; throws CallValidationError. */
  readonly target: (input: Record<string, unknown>, arn: Arn) => void;
  /** Extra value checks on allowed fields (enums that would reach elsewhere). */
  readonly check?: (input: Record<string, unknown>) => void;
}

/** A refusal of an exact call's input: always `details.field` `call`. */
export function callError(message: string, inputField?: string): ValidationError {
  return new ValidationError('call', message, inputField ? { inputField } : undefined);
}

function requireString(input: Record<string, unknown>, field: string): string {
  const value = input[field];
  if (typeof value !== 'string' || value === '') {
    throw callError(`call.input.${field} is required and must name the requested resource`, field);
  }
  return value;
}

function mustEqual(input: Record<string, unknown>, field: string, accepted: readonly string[]): void {
  const value = requireString(input, field);
  if (!accepted.includes(value)) {
    throw callError(
      `call.input.${field} must name the requested resource (${accepted[0]}); the input may not reach anything else`,
      field,
    );
  }
}

function oneOf(input: Record<string, unknown>, field: string, values: readonly string[]): void {
  const value = input[field];
  if (value === undefined) return;
  if (typeof value !== 'string' || !values.includes(value)) {
    throw callError(`call.input.${field} must be one of ${values.join(', ')}`, field);
  }
}

// --- DynamoDB --------------------------------------------------------------------------------

/** `table/NAME` or `table/NAME/index/INDEX`. */
function dynamoTarget(arn: Arn): { table: string; index?: string } {
  const parts = arn.resource.split('/');
  if (arn.service !== 'dynamodb' || parts[0] !== 'table' || !parts[1]) {
    throw callError('the resource must be a DynamoDB table ARN for this operation');
  }
  if (parts.length === 2) return { table: parts[1] };
  if (parts.length === 4 && parts[2] === 'index' && parts[3]) return { table: parts[1], index: parts[3] };
  throw callError('the resource must be a DynamoDB table (or, for Query, index) ARN');
}

function tableTarget(allowIndex: boolean) {
  return (input: Record<string, unknown>, arn: Arn) => {
    const { table, index } = dynamoTarget(arn);
    if (index !== undefined && !allowIndex) throw callError('this operation acts on a table, not an index');
    const tableArn = `arn:${arn.partition}:dynamodb:${arn.region}:${arn.account}:table/${table}`;
    // DynamoDB accepts the table's name or its ARN in TableName.
    mustEqual(input, 'TableName', [table, tableArn]);
    if (index === undefined) {
      // A grant on the table does not reach its indexes: IAM names them as separate resources.
      if (input.IndexName !== undefined) {
        throw callError(
          'call.input.IndexName is not allowed: request the index ARN (table/NAME/index/INDEX) to query an index',
          'IndexName',
        );
      }
    } else {
      mustEqual(input, 'IndexName', [index]);
    }
  };
}

const DYNAMO_COMMON = ['ReturnConsumedCapacity', 'ExpressionAttributeNames'];
const DYNAMO_WRITE = [
  ...DYNAMO_COMMON,
  'ExpressionAttributeValues',
  'ConditionExpression',
  'ReturnValues',
  'ReturnItemCollectionMetrics',
  'ReturnValuesOnConditionCheckFailure',
];

// --- S3 --------------------------------------------------------------------------------------

function s3Object(arn: Arn): { bucket: string; key: string } {
  const slash = arn.resource.indexOf('/');
  if (arn.service !== 's3' || arn.region !== '' || arn.account !== '' || slash <= 0) {
    throw callError('the resource must be an S3 object ARN (arn:aws:s3:::bucket/key) for this operation');
  }
  const key = arn.resource.slice(slash + 1);
  if (key === '') throw callError('the S3 object ARN names no key');
  return { bucket: arn.resource.slice(0, slash), key };
}

const objectTarget = (input: Record<string, unknown>, arn: Arn) => {
  const { bucket, key } = s3Object(arn);
  // `.` and `..` segments are resolved away by URL parsers: the request would name another key.
  if (key.split('/').some((segment) => segment === '.' || segment === '..')) {
    throw callError('an S3 key with "." or ".." segments cannot be called exactly', 'Key');
  }
  mustEqual(input, 'Bucket', [bucket]);
  mustEqual(input, 'Key', [key]);
  headerSafe(input);
  // `.` and `..` segments are legal in S3 keys, but a URL path with them is normalized (by fetch,
  // by any WHATWG URL) before it is sent: `public/../secret/x` would reach `secret/x`. Refused.
  if (key.split('/').some((segment) => segment === '.' || segment === '..')) {
    throw callError(
      'call.input.Key may not hold "." or ".." segments: the request would reach another object than the one named',
      'Key',
    );
  }
};

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/;

/** S3 fields travel as HTTP headers: no line breaks or control characters, metadata names as tokens. */
function headerSafe(input: Record<string, unknown>): void {
  for (const [field, value] of Object.entries(input)) {
    if (field === 'Body' || field === 'Metadata') continue;
    if (typeof value === 'string' && CONTROL.test(value)) {
      throw callError(`call.input.${field} may not contain control characters`, field);
    }
    if (
      value !== undefined &&
      typeof value !== 'string' &&
      typeof value !== 'number' &&
      typeof value !== 'boolean'
    ) {
      throw callError(`call.input.${field} must be a string or a number`, field);
    }
  }
  const metadata = input.Metadata;
  if (metadata && typeof metadata === 'object') {
    for (const [name, value] of Object.entries(metadata)) {
      if (!HEADER_NAME.test(name) || typeof value !== 'string' || CONTROL.test(value)) {
        throw callError('call.input.Metadata names must be header tokens and values plain text', 'Metadata');
      }
    }
  }
}

const S3_READ_CONDITIONS = [
  'IfMatch',
  'IfNoneMatch',
  'IfModifiedSince',
  'IfUnmodifiedSince',
  'ChecksumMode',
  'ExpectedBucketOwner',
];
// No `Range` or `PartNumber`: a partial read can cut a secret so that no masking detector sees it
// whole (a PEM key without its BEGIN line, half of a secret access key). Objects are read whole, up
// to the executor's body limit, and masked as a whole.

// --- The list ----------------------------------------------------------------------------------

const SPECS: readonly OperationSpec[] = [
  {
    operation: 'GetItem',
    action: 'dynamodb:GetItem',
    names: ['TableName'],
    allowed: ['Key', 'ProjectionExpression', 'ConsistentRead', ...DYNAMO_COMMON],
    target: tableTarget(false),
  },
  {
    operation: 'PutItem',
    action: 'dynamodb:PutItem',
    names: ['TableName'],
    allowed: ['Item', ...DYNAMO_WRITE],
    target: tableTarget(false),
  },
  {
    operation: 'UpdateItem',
    action: 'dynamodb:UpdateItem',
    names: ['TableName'],
    allowed: ['Key', 'UpdateExpression', ...DYNAMO_WRITE],
    target: tableTarget(false),
  },
  {
    operation: 'DeleteItem',
    action: 'dynamodb:DeleteItem',
    names: ['TableName'],
    allowed: ['Key', ...DYNAMO_WRITE],
    target: tableTarget(false),
  },
  {
    operation: 'Query',
    action: 'dynamodb:Query',
    names: ['TableName', 'IndexName'],
    // No FilterExpression: a filter on a masked attribute (`begins_with(password, :guess)`) is an
    // oracle for its value, one auto-allowed read per guess, and a filter on any attribute probes
    // what the detectors mask. Filter the (masked) output instead.
    allowed: [
      'KeyConditionExpression',
      'ProjectionExpression',
      'ExpressionAttributeValues',
      'Select',
      'Limit',
      'ExclusiveStartKey',
      'ScanIndexForward',
      'ConsistentRead',
      ...DYNAMO_COMMON,
    ],
    target: tableTarget(true),
  },
  {
    operation: 'GetObject',
    action: 's3:GetObject',
    names: ['Bucket', 'Key'],
    // VersionId needs s3:GetObjectVersion; SSE-C and response-header overrides are left out.
    allowed: S3_READ_CONDITIONS,
    target: objectTarget,
  },
  {
    operation: 'HeadObject',
    action: 's3:GetObject',
    names: ['Bucket', 'Key'],
    allowed: S3_READ_CONDITIONS,
    target: objectTarget,
  },
  {
    operation: 'PutObject',
    action: 's3:PutObject',
    names: ['Bucket', 'Key'],
    // No ACL/Grant* (s3:PutObjectAcl), Tagging (s3:PutObjectTagging), ObjectLock* (retention
    // actions), SSEKMSKeyId / encryption context (reaches a KMS key), WebsiteRedirectLocation
    // (sends readers elsewhere), CopySource (reads another object).
    allowed: [
      'Body',
      'ContentType',
      'ContentLanguage',
      'ContentDisposition',
      'CacheControl',
      'Metadata',
      'StorageClass',
      'IfMatch',
      'IfNoneMatch',
      'ExpectedBucketOwner',
    ],
    target: objectTarget,
    check: (input) => {
      if (input.Body !== undefined && typeof input.Body !== 'string') {
        throw callError('call.input.Body must be a string (UTF-8 text)', 'Body');
      }
      const metadata = input.Metadata;
      if (
        metadata !== undefined &&
        (metadata === null ||
          typeof metadata !== 'object' ||
          Array.isArray(metadata) ||
          Object.values(metadata).some((v) => typeof v !== 'string'))
      ) {
        throw callError('call.input.Metadata must map names to strings', 'Metadata');
      }
    },
  },
  {
    operation: 'DeleteObject',
    action: 's3:DeleteObject',
    names: ['Bucket', 'Key'],
    // VersionId needs s3:DeleteObjectVersion; BypassGovernanceRetention another action; MFA a device.
    allowed: ['IfMatch', 'ExpectedBucketOwner'],
    target: objectTarget,
  },
  {
    operation: 'ListObjectsV2',
    action: 's3:ListBucket',
    names: ['Bucket'],
    allowed: [
      'Prefix',
      'Delimiter',
      'MaxKeys',
      'ContinuationToken',
      'StartAfter',
      'EncodingType',
      'FetchOwner',
      'ExpectedBucketOwner',
    ],
    target: (input, arn) => {
      if (arn.service !== 's3' || arn.resource.includes('/') || arn.region !== '' || arn.account !== '') {
        throw callError('the resource must be an S3 bucket ARN (arn:aws:s3:::bucket) for ListObjectsV2');
      }
      mustEqual(input, 'Bucket', [arn.resource]);
      headerSafe(input);
    },
  },
  {
    operation: 'SendMessage',
    action: 'sqs:SendMessage',
    names: ['QueueUrl'],
    // MessageSystemAttributes is left out: only AWSTraceHeader exists, and nothing needs it.
    allowed: ['MessageBody', 'DelaySeconds', 'MessageAttributes', 'MessageDeduplicationId', 'MessageGroupId'],
    target: (input, arn) => {
      if (arn.service !== 'sqs' || arn.resource.includes('/') || arn.resource.includes(':')) {
        throw callError('the resource must be an SQS queue ARN for SendMessage');
      }
      const suffix = arn.partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
      mustEqual(input, 'QueueUrl', [`https://sqs.${arn.region}.${suffix}/${arn.account}/${arn.resource}`]);
    },
  },
  {
    operation: 'Publish',
    action: 'sns:Publish',
    names: ['TopicArn'],
    // TargetArn (an endpoint) and PhoneNumber (an SMS) reach elsewhere; only the topic is allowed.
    allowed: [
      'Message',
      'Subject',
      'MessageStructure',
      'MessageAttributes',
      'MessageDeduplicationId',
      'MessageGroupId',
    ],
    target: (input, arn) => {
      if (arn.service !== 'sns' || arn.resource.includes(':') || arn.resource.includes('/')) {
        throw callError('the resource must be an SNS topic ARN for Publish');
      }
      mustEqual(input, 'TopicArn', [arn.arn]);
    },
  },
  {
    operation: 'Invoke',
    action: 'lambda:InvokeFunction',
    names: ['FunctionName'],
    // ClientContext is passed to the function unseen by approvers; LogType Tail returns raw logs.
    allowed: ['Payload', 'InvocationType', 'LogType', 'Qualifier'],
    target: (input, arn) => {
      const parts = arn.resource.split(':');
      if (arn.service !== 'lambda' || parts[0] !== 'function' || !parts[1] || parts.length > 3) {
        throw callError('the resource must be a Lambda function ARN for Invoke');
      }
      const [, name, qualifier] = parts as [string, string, string | undefined];
      const unqualified = `arn:${arn.partition}:lambda:${arn.region}:${arn.account}:function:${name}`;
      mustEqual(input, 'FunctionName', qualifier ? [arn.arn, unqualified, name] : [unqualified, name]);
      const given = input.Qualifier;
      if (qualifier === undefined) {
        if (given !== undefined) {
          throw callError(
            'call.input.Qualifier is not allowed: request the qualified function ARN',
            'Qualifier',
          );
        }
        return;
      }
      // The qualifier decides which version runs: it is the approved one, stated on the call.
      const qualifiedByName = input.FunctionName === arn.arn;
      if (given !== undefined ? given !== qualifier : !qualifiedByName) {
        throw callError(`call.input.Qualifier must be ${qualifier}, as in the requested ARN`, 'Qualifier');
      }
    },
    check: (input) => {
      oneOf(input, 'InvocationType', ['RequestResponse', 'Event', 'DryRun']);
      oneOf(input, 'LogType', ['None']);
    },
  },
  {
    operation: 'GetSecretValue',
    action: 'secretsmanager:GetSecretValue',
    names: ['SecretId'],
    allowed: ['VersionId', 'VersionStage'],
    target: (input, arn) => {
      if (arn.service !== 'secretsmanager' || !arn.resource.startsWith('secret:')) {
        throw callError('the resource must be a Secrets Manager secret ARN for GetSecretValue');
      }
      // A name (or partial ARN) may resolve to a different secret than the one approved: full ARN only.
      mustEqual(input, 'SecretId', [arn.arn]);
    },
  },
  {
    operation: 'GetParameter',
    action: 'ssm:GetParameter',
    names: ['Name'],
    allowed: ['WithDecryption'],
    target: (input, arn) => mustEqual(input, 'Name', parameterNames(arn)),
  },
  {
    operation: 'PutParameter',
    action: 'ssm:PutParameter',
    names: ['Name'],
    // KeyId reaches a KMS key; Tags need ssm:AddTagsToResource; Policies and Tier change more than
    // the value.
    allowed: ['Value', 'Type', 'Overwrite', 'Description', 'AllowedPattern', 'DataType'],
    target: (input, arn) => mustEqual(input, 'Name', parameterNames(arn)),
    check: (input) => oneOf(input, 'Type', ['String', 'StringList', 'SecureString']),
  },
];

/** `parameter/a/b` is the ARN of `/a/b`; `parameter/x` of `x` or `/x`. The ARN itself works too. */
function parameterNames(arn: Arn): string[] {
  if (arn.service !== 'ssm' || !arn.resource.startsWith('parameter/') || arn.resource === 'parameter/') {
    throw callError('the resource must be an SSM parameter ARN for this operation');
  }
  const rest = arn.resource.slice('parameter/'.length);
  return rest.includes('/') ? [`/${rest}`, arn.arn] : [rest, `/${rest}`, arn.arn];
}

/** `dynamodb:PutItem` → "PutItem (dynamodb:PutItem)", for error messages and docs. */
export const supportedList = () => SPECS.map((s) => `${s.operation} (${s.action})`).join(', ');

/**
 * The operation an exact call is: named by `operation` when given, else the one operation of the
 * action (s3:GetObject is both GetObject and HeadObject, so it defaults to GetObject).
 */
export function findOperation(action: string, operation?: string): OperationSpec {
  const candidates = SPECS.filter((s) => s.action.toLowerCase() === action.toLowerCase());
  if (candidates.length === 0) {
    throw callError(`${action} is not an operation exact calls support; supported: ${supportedList()}`);
  }
  if (operation === undefined) return candidates[0]!;
  const found = candidates.find((s) => s.operation === operation);
  if (!found) {
    throw callError(
      `call.operation ${JSON.stringify(operation.slice(0, 64))} is not an operation of ${action}; it may be ${candidates.map((c) => c.operation).join(' or ')}`,
      'operation',
    );
  }
  return found;
}
