import { describe, expect, it } from 'vitest';
import { extractRecords, MAX_RECORDS_PER_CALL, parseRecord } from '../../lambdas/core/cloudtrail.js';
import { ValidationError } from '../../lambdas/core/errors.js';
import { fakeAccessKeyId } from '../support/fake-keys.js';
import { assumeRoleRecord, callRecord, eventBridge } from './support.js';

const ID = 'req_AbCdEfGhIjKlMnOpQrSt';

describe('reading CloudTrail input', () => {
  it('takes the record out of an EventBridge event, a raw record and a CloudTrail file', () => {
    const record = callRecord({
      requestId: ID,
      accessKeyId: fakeAccessKeyId('EXAMPLEKEY000001'),
      eventName: 'PutItem',
      eventTime: '2025-03-10T09:00:00Z',
    });

    expect(extractRecords(eventBridge(record)).records).toEqual([record]);
    expect(extractRecords(record).records).toEqual([record]);
    expect(extractRecords({ Records: [record, record] }).records).toHaveLength(2);
  });

  it('refuses what is not CloudTrail input, and files larger than one call may carry', () => {
    const tooMany = { Records: Array.from({ length: MAX_RECORDS_PER_CALL + 1 }, () => ({})) };

    expect(() => extractRecords('text')).toThrow(ValidationError);
    expect(() => extractRecords({ Records: 'x' })).toThrow(ValidationError);
    expect(() => extractRecords(tooMany)).toThrow(ValidationError);
  });

  it('reads the minted key of an AssumeRole and never its session token', () => {
    const parsed = parseRecord(
      assumeRoleRecord({
        requestId: ID,
        mintedAccessKeyId: fakeAccessKeyId('MINTEDKEY0000001'),
        sourceIdentity: 'deploy-bot',
        eventTime: '2025-03-10T09:00:00Z',
      }),
    );

    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.facts.assumeRole).toEqual({
      roleSessionName: ID,
      roleArn: 'arn:aws:iam::111122223333:role/countersign-target',
      sourceIdentity: 'deploy-bot',
      mintedAccessKeyId: fakeAccessKeyId('MINTEDKEY0000001'),
    });
    expect(JSON.stringify(parsed.facts)).not.toContain('IQoJb3JpZ2lu');
  });

  it('names the session only when the assumed-role ARN ends in a request id', () => {
    const ours = parseRecord(
      callRecord({
        requestId: ID,
        accessKeyId: fakeAccessKeyId('EXAMPLEKEY000001'),
        eventName: 'PutItem',
        eventTime: '2025-03-10T09:00:00Z',
      }),
    );
    const theirs = parseRecord(
      callRecord({
        requestId: 'botocore-session-1',
        accessKeyId: fakeAccessKeyId('EXAMPLEKEY000001'),
        eventName: 'PutItem',
        eventTime: '2025-03-10T09:00:00Z',
      }),
    );

    expect(ours.ok && ours.facts.identity.sessionName).toBe(ID);
    expect(theirs.ok && theirs.facts.identity.sessionName).toBeUndefined();
  });

  it('turns S3 and DynamoDB request parameters into resource ARNs', () => {
    const s3 = {
      ...callRecord({
        requestId: ID,
        accessKeyId: fakeAccessKeyId('EXAMPLEKEY000001'),
        eventName: 'GetObject',
        eventSource: 's3.amazonaws.com',
        eventTime: '2025-03-10T09:00:00Z',
      }),
      requestParameters: { bucketName: 'reports-bucket', key: 'q1/summary.csv' },
    };
    const dynamo = callRecord({
      requestId: ID,
      accessKeyId: fakeAccessKeyId('EXAMPLEKEY000001'),
      eventName: 'PutItem',
      eventTime: '2025-03-10T09:00:00Z',
      tableName: 'orders',
    });

    const s3Facts = parseRecord(s3);
    const dynamoFacts = parseRecord(dynamo);

    expect(s3Facts.ok && s3Facts.facts.resources).toEqual(['arn:aws:s3:::reports-bucket/q1/summary.csv']);
    expect(dynamoFacts.ok && dynamoFacts.facts.resources).toEqual([
      'arn:aws:dynamodb:us-east-1:111122223333:table/orders',
    ]);
  });

  it.each([
    [{ eventID: 'a b' }, 'eventID'],
    [{ eventTime: 'last tuesday' }, 'eventTime'],
    [{ eventName: undefined }, 'eventName'],
  ])('refuses a record with %j', (patch, problem) => {
    const record = {
      ...callRecord({
        requestId: ID,
        accessKeyId: fakeAccessKeyId('EXAMPLEKEY000001'),
        eventName: 'PutItem',
        eventTime: '2025-03-10T09:00:00Z',
      }),
      ...patch,
    };

    const parsed = parseRecord(record);

    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.problem).toContain(problem);
  });
});
