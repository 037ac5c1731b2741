import { describe, expect, it } from 'vitest';
import {
  assertEventPatternSize,
  EVENT_PATTERN_DEFAULT_QUOTA_CHARACTERS,
  EventPatternError,
  isReadOnlyManagementEvent,
  matchesPattern,
  ruleReceives,
} from '../../../lib/local/assembly/event-patterns.js';

const event = {
  version: '0',
  id: 'e1',
  'detail-type': 'AWS API Call via CloudTrail',
  source: 'aws.dynamodb',
  account: '111122223333',
  region: 'eu-west-1',
  resources: [],
  detail: {
    eventSource: 'dynamodb.amazonaws.com',
    eventName: 'PutItem',
    readOnly: false,
    managementEvent: false,
    sourceIPAddress: '10.0.3.7',
    userIdentity: {
      type: 'AssumedRole',
      arn: 'arn:aws:sts::111122223333:assumed-role/countersign-target/req-1',
      sessionContext: { sessionIssuer: { arn: 'arn:aws:iam::111122223333:role/countersign-target' } },
    },
    requestParameters: { tableName: 'Payments', count: 12, tags: ['a', 'b'], nothing: null },
  },
};

describe('matchesPattern', () => {
  it('matches exact values, arrays as OR, nested objects as AND', () => {
    expect(matchesPattern({ source: ['aws.s3', 'aws.dynamodb'] }, event)).toBe(true);
    expect(matchesPattern({ source: ['aws.s3'] }, event)).toBe(false);
    expect(
      matchesPattern(
        { source: ['aws.dynamodb'], detail: { eventName: ['PutItem'], readOnly: [false] } },
        event,
      ),
    ).toBe(true);
    expect(matchesPattern({ source: ['aws.dynamodb'], detail: { eventName: ['GetItem'] } }, event)).toBe(
      false,
    );
    expect(
      matchesPattern(
        {
          detail: {
            userIdentity: {
              sessionContext: {
                sessionIssuer: { arn: ['arn:aws:iam::111122223333:role/countersign-target'] },
              },
            },
          },
        },
        event,
      ),
    ).toBe(true);
    expect(matchesPattern({ detail: { requestParameters: { nothing: [null] } } }, event)).toBe(true);
    expect(matchesPattern({ detail: { requestParameters: { absent: [null] } } }, event)).toBe(false);
    expect(matchesPattern({ detail: { requestParameters: { count: [12] } } }, event)).toBe(true);
    expect(matchesPattern({ detail: { requestParameters: { count: ['12'] } } }, event)).toBe(false);
  });

  it('matches an array in the event when any element matches', () => {
    expect(matchesPattern({ detail: { requestParameters: { tags: ['b'] } } }, event)).toBe(true);
    expect(matchesPattern({ detail: { requestParameters: { tags: ['c'] } } }, event)).toBe(false);
  });

  it('applies prefix, suffix, equals-ignore-case and wildcard', () => {
    const rp = (filter: unknown) =>
      matchesPattern({ detail: { requestParameters: { tableName: [filter] } } }, event);
    expect(rp({ prefix: 'Pay' })).toBe(true);
    expect(rp({ prefix: 'pay' })).toBe(false);
    expect(rp({ prefix: { 'equals-ignore-case': 'pay' } })).toBe(true);
    expect(rp({ suffix: 'ments' })).toBe(true);
    expect(rp({ suffix: { 'equals-ignore-case': 'MENTS' } })).toBe(true);
    expect(rp({ 'equals-ignore-case': 'PAYMENTS' })).toBe(true);
    expect(rp({ wildcard: 'P*s' })).toBe(true);
    expect(rp({ wildcard: 'P*x' })).toBe(false);
    expect(matchesPattern({ a: [{ wildcard: 'x\\*y' }] }, { a: 'x*y' })).toBe(true);
    expect(matchesPattern({ a: [{ wildcard: 'x\\*y' }] }, { a: 'xzy' })).toBe(false);
  });

  it('applies anything-but in its forms, and only to present fields', () => {
    const rp = (filter: unknown) =>
      matchesPattern({ detail: { requestParameters: { tableName: [filter] } } }, event);
    expect(rp({ 'anything-but': 'Audit' })).toBe(true);
    expect(rp({ 'anything-but': ['Audit', 'Payments'] })).toBe(false);
    expect(rp({ 'anything-but': { prefix: 'Pay' } })).toBe(false);
    expect(rp({ 'anything-but': { suffix: 'x' } })).toBe(true);
    expect(rp({ 'anything-but': { 'equals-ignore-case': ['payments'] } })).toBe(false);
    expect(rp({ 'anything-but': { wildcard: 'Pay*' } })).toBe(false);
    expect(matchesPattern({ missing: [{ 'anything-but': 'x' }] }, event)).toBe(false);
  });

  it('applies exists, numeric and cidr', () => {
    expect(matchesPattern({ detail: { errorCode: [{ exists: false }] } }, event)).toBe(true);
    expect(matchesPattern({ detail: { errorCode: [{ exists: true }] } }, event)).toBe(false);
    expect(matchesPattern({ detail: { eventName: [{ exists: true }] } }, event)).toBe(true);
    // exists matches leaves only.
    expect(matchesPattern({ detail: { userIdentity: [{ exists: true }] } }, event)).toBe(false);
    expect(matchesPattern({ absent: { deeper: [{ exists: false }] } }, event)).toBe(true);
    const count = (numeric: unknown[]) =>
      matchesPattern({ detail: { requestParameters: { count: [{ numeric }] } } }, event);
    expect(count(['>', 10, '<=', 12])).toBe(true);
    expect(count(['>', 12])).toBe(false);
    expect(count(['=', 12])).toBe(true);
    expect(
      matchesPattern({ detail: { requestParameters: { tableName: [{ numeric: ['>', 0] }] } } }, event),
    ).toBe(false);
    expect(matchesPattern({ detail: { sourceIPAddress: [{ cidr: '10.0.0.0/16' }] } }, event)).toBe(true);
    expect(matchesPattern({ detail: { sourceIPAddress: [{ cidr: '10.1.0.0/16' }] } }, event)).toBe(false);
  });

  it('applies $or', () => {
    const pattern = {
      detail: {
        $or: [{ eventName: ['GetItem'] }, { requestParameters: { count: [{ numeric: ['>', 5] }] } }],
      },
    };
    expect(matchesPattern(pattern, event)).toBe(true);
    const none = { detail: { $or: [{ eventName: ['GetItem'] }, { readOnly: [true] }] } };
    expect(matchesPattern(none, event)).toBe(false);
  });

  it('refuses what is not a pattern rather than guess', () => {
    expect(() => matchesPattern({ source: 'aws.dynamodb' }, event)).toThrow(EventPatternError);
    expect(() => matchesPattern({ source: [{ 'begins-with': 'aws' }] }, event)).toThrow(/unknown filter/);
    expect(() =>
      matchesPattern({ detail: { count: [{ numeric: ['~', 1] }] } }, { detail: { count: 1 } }),
    ).toThrow(/operator/);
  });
});

describe('ruleReceives and rule states', () => {
  const assumeRole = {
    ...event,
    source: 'aws.sts',
    detail: {
      ...event.detail,
      eventSource: 'sts.amazonaws.com',
      eventName: 'AssumeRole',
      readOnly: true,
      managementEvent: true,
      eventCategory: 'Management',
      requestParameters: { roleArn: 'arn:aws:iam::111122223333:role/countersign-target' },
    },
  };
  const pattern = {
    source: ['aws.sts'],
    'detail-type': ['AWS API Call via CloudTrail'],
    detail: { eventName: ['AssumeRole'] },
  };

  it('delivers a read-only management event only to a rule in ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS', () => {
    expect(isReadOnlyManagementEvent(assumeRole)).toBe(true);
    expect(ruleReceives({ state: 'ENABLED', eventPattern: pattern }, assumeRole)).toBe(false);
    expect(
      ruleReceives(
        { state: 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS', eventPattern: pattern },
        assumeRole,
      ),
    ).toBe(true);
    expect(ruleReceives({ state: 'DISABLED', eventPattern: pattern }, assumeRole)).toBe(false);
  });

  it('delivers change events to ENABLED rules, and nothing to DISABLED ones', () => {
    const putItem = { source: ['aws.dynamodb'] };
    expect(isReadOnlyManagementEvent(event)).toBe(false);
    expect(ruleReceives({ state: 'ENABLED', eventPattern: putItem }, event)).toBe(true);
    expect(
      ruleReceives({ state: 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS', eventPattern: putItem }, event),
    ).toBe(true);
    expect(ruleReceives({ state: 'DISABLED', eventPattern: putItem }, event)).toBe(false);
  });

  it('treats STS GetSessionToken and GetFederationToken as change events, as the EventBridge guide lists them', () => {
    const getSessionToken = { ...assumeRole, detail: { ...assumeRole.detail, eventName: 'GetSessionToken' } };
    expect(isReadOnlyManagementEvent(getSessionToken)).toBe(false);
    expect(ruleReceives({ state: 'ENABLED', eventPattern: { source: ['aws.sts'] } }, getSessionToken)).toBe(
      true,
    );
  });

  it('a rule without a pattern (a schedule) receives no events', () => {
    expect(ruleReceives({ state: 'ENABLED' }, event)).toBe(false);
  });
});

describe('assertEventPatternSize', () => {
  it('accepts up to the limit and refuses beyond it', () => {
    const sized = (n: number) => ({ a: ['x'.repeat(n - '{"a":[""]}'.length)] });
    expect(JSON.stringify(sized(4096))).toHaveLength(4096);
    expect(() => assertEventPatternSize(sized(4096))).not.toThrow();
    expect(() => assertEventPatternSize(sized(4097))).toThrow(
      /4097 characters; EventBridge accepts at most 4096/,
    );
    expect(() => assertEventPatternSize(sized(2049), EVENT_PATTERN_DEFAULT_QUOTA_CHARACTERS)).toThrow(/2048/);
  });
});
