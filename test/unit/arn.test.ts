// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM's ${…} syntax is test data here, not a template
import { describe, expect, it } from 'vitest';
import { MAX_ARN_LENGTH, parseArn } from '../../lambdas/core/arn.js';
import { ValidationError } from '../../lambdas/core/errors.js';

describe('parseArn', () => {
  it.each([
    [
      'arn:aws:dynamodb:us-east-1:111122223333:table/orders',
      'aws',
      'dynamodb',
      'us-east-1',
      '111122223333',
      'table/orders',
    ],
    ['arn:aws:s3:::bucket/a/b:c.txt', 'aws', 's3', '', '', 'bucket/a/b:c.txt'],
    ['arn:aws:iam::111122223333:role/path/deploy', 'aws', 'iam', '', '111122223333', 'role/path/deploy'],
    ['arn:aws-cn:sqs:cn-north-1:111122223333:jobs', 'aws-cn', 'sqs', 'cn-north-1', '111122223333', 'jobs'],
    [
      'arn:aws-us-gov:lambda:us-gov-west-1:111122223333:function:f:1',
      'aws-us-gov',
      'lambda',
      'us-gov-west-1',
      '111122223333',
      'function:f:1',
    ],
  ])('accepts %s', (input, partition, service, region, account, resource) => {
    // Act
    const arn = parseArn(input);

    // Assess
    expect(arn).toEqual({ arn: input, partition, service, region, account, resource });
  });

  it.each([
    ['not a string', 42, 'must be a string'],
    ['empty', '', 'must not be empty'],
    ['too long', `arn:aws:s3:::${'a'.repeat(MAX_ARN_LENGTH)}`, 'longer than 2048'],
    ['wrong partition', 'arn:aws-iso:s3:::bucket', 'partition must be one of'],
    ['made-up partition', 'arn:awz:s3:::bucket', 'partition must be one of'],
    ['not an ARN', 'dynamodb:table/orders', 'full ARN'],
    ['too few fields', 'arn:aws:s3:bucket', 'full ARN'],
    ['empty resource', 'arn:aws:sqs:us-east-1:111122223333:', 'resource part is empty'],
    ['bad service', 'arn:aws:Dynamo_DB:us-east-1:111122223333:table/x', 'not a service name'],
    ['bad region', 'arn:aws:sqs:mars-1:111122223333:q', 'not an AWS region'],
    ['region of another partition', 'arn:aws:sqs:cn-north-1:111122223333:q', 'not in partition aws'],
    ['gov region in aws', 'arn:aws:sqs:us-gov-west-1:111122223333:q', 'not in partition aws'],
    ['short account', 'arn:aws:sqs:us-east-1:11112222333:q', '12 digits'],
    ['alias account', 'arn:aws:iam::aws:policy/ReadOnlyAccess', '12 digits'],
    ['wildcard *', 'arn:aws:s3:::bucket/*', 'wildcards (*)'],
    ['wildcard in region', 'arn:aws:sqs:*:111122223333:q', 'wildcards (*)'],
    ['wildcard ?', 'arn:aws:s3:::bucket/a?', 'wildcards (?)'],
    ['policy variable', 'arn:aws:s3:::bucket/${aws:username}/x', 'policy variables'],
    ['Cyrillic look-alike', 'arn:aws:s3:::b\u0430cket', 'printable ASCII'],
    ['zero-width space', 'arn:aws:s3:::bucket\u200b', 'printable ASCII'],
    ['newline', 'arn:aws:s3:::bucket\n', 'printable ASCII'],
    ['NUL', 'arn:aws:s3:::buck\u0000et', 'printable ASCII'],
    ['space', 'arn:aws:s3:::my bucket', 'printable ASCII'],
    ['a double quote', 'arn:aws:s3:::b/"],"NotResource":["x', 'quotes or backslashes'],
    ['a backslash', 'arn:aws:s3:::b/a\\u002a', 'quotes or backslashes'],
    ['upper-case ARN prefix', 'ARN:aws:s3:::bucket', 'full ARN'],
  ])('refuses %s', (_name, input, message) => {
    // Act
    const act = () => parseArn(input, 'resource');

    // Assess
    expect(act).toThrow(ValidationError);
    expect(act).toThrow(message);
    try {
      act();
    } catch (error) {
      expect((error as ValidationError).field).toBe('resource');
      expect((error as ValidationError).status).toBe(400);
    }
  });

  it('names the field it was given', () => {
    // Act
    const act = () => parseArn('nope', 'grant.resource');

    // Assess
    expect(act).toThrow(expect.objectContaining({ details: { field: 'grant.resource' } }));
  });

  it('accepts an ARN of exactly the maximum length', () => {
    // Prepare
    const prefix = 'arn:aws:s3:::b/';
    const input = prefix + 'k'.repeat(MAX_ARN_LENGTH - prefix.length);

    // Act
    const arn = parseArn(input);

    // Assess
    expect(arn.arn).toHaveLength(MAX_ARN_LENGTH);
  });
});
