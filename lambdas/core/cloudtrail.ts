import { ValidationError } from './errors.js';
import { stripControlCharacters, truncate } from './escape.js';
import { REQUEST_ID } from './ids.js';

/**
 * Reading CloudTrail input (DESIGN.md §4, CloudTrail linkage). Everything in a CloudTrail record is
 * someone else's text — `userAgent` and `errorMessage` are chosen by whoever made the call — so this
 * module keeps only the fields a reviewer needs, cleans and length-limits them, and never passes the
 * whole record on (AssumeRole records carry a session token in `responseElements`).
 */

/** The EventBridge `detail-type` of CloudTrail management and data events. */
export const CLOUDTRAIL_DETAIL_TYPE = 'AWS API Call via CloudTrail';

/** A CloudTrail file in S3 holds at most a few thousand records; more in one call is refused. */
export const MAX_RECORDS_PER_CALL = 1000;

const LIMITS = {
  eventName: 128,
  eventSource: 128,
  region: 32,
  errorCode: 128,
  errorMessage: 1024,
  sourceIp: 128,
  userAgent: 512,
  resource: 2048,
  resources: 10,
} as const;

const EVENT_ID = /^[A-Za-z0-9-]{1,128}$/;
const ACCESS_KEY_ID = /^[A-Z0-9]{16,128}$/;
// `arn:aws:sts::111122223333:assumed-role/<role name>/<session name>` (assumed-role ARNs carry no path).
const ASSUMED_ROLE_ARN =
  /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([\w+=,.@-]{1,64})\/([\w+=,.@-]{2,64})$/;
// `arn:aws:iam::111122223333:role/<path/><role name>`
const ROLE_ARN = /^arn:(aws[a-z-]*):iam::(\d{12}):role\/(?:[\x21-\x7e]*\/)?([\w+=,.@-]{1,64})$/;

/**
 * A role in the one form identities of roles are compared in: `<partition>:<account>:<name>`. Role
 * names are unique in an account whatever their path, and assumed-role ARNs carry no path, so the
 * path is left out. Undefined for anything that is not a role or assumed-role ARN.
 */
export function roleKey(arn: string): string | undefined {
  const role = ROLE_ARN.exec(arn);
  if (role) return `${role[1]}:${role[2]}:${role[3]}`;
  const assumed = ASSUMED_ROLE_ARN.exec(arn);
  return assumed ? `${assumed[1]}:${assumed[2]}:${assumed[3]}` : undefined;
}

/** The facts of one CloudTrail record that linking and the evidence record use, cleaned. */
export interface CloudTrailFacts {
  eventId: string;
  /** ISO-8601, normalised (`toISOString`), so times compare as strings. */
  eventTime: string;
  eventName: string;
  eventSource: string;
  awsRegion?: string;
  errorCode?: string;
  errorMessage?: string;
  sourceIpAddress?: string;
  userAgent?: string;
  resources: string[];
  /** Who made the call. */
  identity: {
    accessKeyId?: string;
    /** The caller's role in one form (`roleKey`): its session issuer, or the role of its assumed-role ARN. */
    roleKey?: string;
    /** The session name at the end of an assumed-role `userIdentity.arn`, when it is a request id. */
    sessionName?: string;
    sourceIdentity?: string;
  };
  /** Present for `sts:AssumeRole` records. */
  assumeRole?: {
    roleSessionName?: string;
    roleArn?: string;
    sourceIdentity?: string;
    /** `responseElements.credentials.accessKeyId`: the key this call minted. */
    mintedAccessKeyId?: string;
  };
}

export type ParsedRecord = { ok: true; facts: CloudTrailFacts } | { ok: false; problem: string };

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const field = (value: unknown, key: string): unknown => (isObject(value) ? value[key] : undefined);

/** One line of untrusted text: control and invisible characters removed, cut to `max`. */
function text(value: unknown, max: number): string | undefined {
  if (typeof value !== 'string') return undefined;
  const cleaned = truncate(stripControlCharacters(value, { keepNewlines: false }), max);
  return cleaned.length > 0 ? cleaned : undefined;
}

function accessKey(value: unknown): string | undefined {
  return typeof value === 'string' && ACCESS_KEY_ID.test(value) ? value : undefined;
}

function requestId(value: unknown): string | undefined {
  return typeof value === 'string' && REQUEST_ID.test(value) ? value : undefined;
}

/**
 * The CloudTrail records in one input: an EventBridge event (`detail` is the record), a single raw
 * record, or `{ "Records": [...] }` as CloudTrail writes to S3. EventBridge events of another
 * `detail-type` yield no records. Anything else is a ValidationError: the caller sent the wrong thing.
 */
export function extractRecords(input: unknown): { records: unknown[]; skipped: number } {
  if (!isObject(input))
    throw new ValidationError(
      'body',
      'expected a CloudTrail record, {"Records":[…]} or an EventBridge event',
    );
  if ('detail-type' in input || 'detail' in input) {
    if (input['detail-type'] !== CLOUDTRAIL_DETAIL_TYPE || !isObject(input.detail))
      return { records: [], skipped: 1 };
    return { records: [input.detail], skipped: 0 };
  }
  if ('Records' in input) {
    if (!Array.isArray(input.Records))
      throw new ValidationError('Records', 'Records must be an array of CloudTrail records');
    if (input.Records.length > MAX_RECORDS_PER_CALL) {
      throw new ValidationError('Records', `at most ${MAX_RECORDS_PER_CALL} records per call`, {
        max: MAX_RECORDS_PER_CALL,
      });
    }
    return { records: input.Records, skipped: 0 };
  }
  if ('eventID' in input) return { records: [input], skipped: 0 };
  throw new ValidationError('body', 'expected a CloudTrail record, {"Records":[…]} or an EventBridge event');
}

/** Cleans one record into CloudTrailFacts, or says why it cannot be used. */
export function parseRecord(record: unknown): ParsedRecord {
  if (!isObject(record)) return { ok: false, problem: 'not an object' };
  const eventId = record.eventID;
  if (typeof eventId !== 'string' || !EVENT_ID.test(eventId))
    return { ok: false, problem: 'eventID missing or malformed' };
  const time = typeof record.eventTime === 'string' ? Date.parse(record.eventTime) : Number.NaN;
  if (Number.isNaN(time)) return { ok: false, problem: 'eventTime missing or malformed' };
  const eventTime = new Date(time).toISOString();
  const eventName = text(record.eventName, LIMITS.eventName);
  const eventSource = text(record.eventSource, LIMITS.eventSource);
  if (!eventName || !eventSource) return { ok: false, problem: 'eventName or eventSource missing' };

  const userIdentity = record.userIdentity;
  const arn = field(userIdentity, 'arn');
  const arnMatch = typeof arn === 'string' ? ASSUMED_ROLE_ARN.exec(arn) : null;
  const sessionName = requestId(arnMatch?.[4]);
  const sessionContext = field(userIdentity, 'sessionContext');
  const sourceIdentity = text(field(sessionContext, 'sourceIdentity'), 64);
  // The issuer CloudTrail names is authoritative; the assumed-role ARN says the same without a path.
  const issuer = field(sessionContext, 'sessionIssuer');
  const issuerArn = field(issuer, 'type') === 'Role' ? field(issuer, 'arn') : undefined;
  const callerRole =
    (typeof issuerArn === 'string' ? roleKey(issuerArn) : undefined) ??
    (typeof arn === 'string' ? roleKey(arn) : undefined);

  const facts: CloudTrailFacts = {
    eventId,
    eventTime,
    eventName,
    eventSource,
    resources: resourcesOf(record, arnMatch?.[1] ?? 'aws'),
    identity: {
      ...optional('accessKeyId', accessKey(field(userIdentity, 'accessKeyId'))),
      ...optional('roleKey', callerRole),
      ...optional('sessionName', sessionName),
      ...optional('sourceIdentity', sourceIdentity),
    },
    ...optional('awsRegion', text(record.awsRegion, LIMITS.region)),
    ...optional('errorCode', text(record.errorCode, LIMITS.errorCode)),
    ...optional('errorMessage', text(record.errorMessage, LIMITS.errorMessage)),
    ...optional('sourceIpAddress', text(record.sourceIPAddress, LIMITS.sourceIp)),
    ...optional('userAgent', text(record.userAgent, LIMITS.userAgent)),
  };
  if (eventName === 'AssumeRole' && eventSource === 'sts.amazonaws.com') {
    const params = record.requestParameters;
    facts.assumeRole = {
      ...optional('roleSessionName', requestId(field(params, 'roleSessionName'))),
      ...optional('roleArn', text(field(params, 'roleArn'), LIMITS.resource)),
      ...optional('sourceIdentity', text(field(params, 'sourceIdentity'), 64)),
      // Only the key id is read; the session token beside it is never touched.
      ...optional(
        'mintedAccessKeyId',
        accessKey(field(field(record.responseElements, 'credentials'), 'accessKeyId')),
      ),
    };
  }
  return { ok: true, facts };
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/**
 * The resources a call named: CloudTrail's own `resources[].ARN` when present, otherwise ARNs found
 * among the top-level request parameters, plus the two names most grants are about (a DynamoDB
 * table, an S3 bucket or object) turned into ARNs. At most ten, each length-limited.
 */
function resourcesOf(record: Json, partition: string): string[] {
  const found = new Set<string>();
  const add = (value: unknown) => {
    const arn = text(value, LIMITS.resource);
    if (arn?.startsWith('arn:') && found.size < LIMITS.resources) found.add(arn);
  };
  if (Array.isArray(record.resources)) {
    for (const resource of record.resources) add(field(resource, 'ARN') ?? field(resource, 'arn'));
  }
  const params = record.requestParameters;
  if (isObject(params)) {
    for (const value of Object.values(params))
      if (typeof value === 'string' && value.startsWith('arn:')) add(value);
    const account = [record.recipientAccountId, field(record.userIdentity, 'accountId')].find(
      (v): v is string => typeof v === 'string' && /^\d{12}$/.test(v),
    );
    const region =
      typeof record.awsRegion === 'string' && /^[a-z0-9-]{1,32}$/.test(record.awsRegion)
        ? record.awsRegion
        : undefined;
    const table = params.tableName;
    if (
      record.eventSource === 'dynamodb.amazonaws.com' &&
      typeof table === 'string' &&
      !table.startsWith('arn:')
    ) {
      if (account && region && /^[A-Za-z0-9_.-]{3,255}$/.test(table))
        add(`arn:${partition}:dynamodb:${region}:${account}:table/${table}`);
    }
    const bucket = params.bucketName;
    if (
      record.eventSource === 's3.amazonaws.com' &&
      typeof bucket === 'string' &&
      /^[a-z0-9.-]{3,63}$/.test(bucket)
    ) {
      add(
        typeof params.key === 'string'
          ? `arn:${partition}:s3:::${bucket}/${params.key}`
          : `arn:${partition}:s3:::${bucket}`,
      );
    }
  }
  return [...found];
}
