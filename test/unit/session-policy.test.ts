// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM's ${…} syntax is test data here, not a template
import { describe, expect, it } from 'vitest';
import { FailClosedError } from '../../lambdas/core/errors.js';
import {
  buildSessionPolicy,
  type SessionPolicyInput,
  STS_SESSION_POLICY_MAX_CHARS,
  sanitizeSourceIdentity,
} from '../../lambdas/core/session-policy.js';

const TABLE = 'arn:aws:dynamodb:us-east-1:111122223333:table/orders';
const grant = (patch: Partial<SessionPolicyInput> = {}): SessionPolicyInput => ({
  actions: ['dynamodb:PutItem'],
  resource: TABLE,
  notAfter: '2030-01-31T12:15:00Z',
  ...patch,
});

describe('buildSessionPolicy', () => {
  it('allows exactly the actions on exactly the ARN until notAfter', () => {
    // Act
    const { document, json } = buildSessionPolicy(
      grant({ actions: ['dynamodb:PutItem', 'dynamodb:GetItem'] }),
    );

    // Assess
    expect(json).toBe(
      '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["dynamodb:PutItem","dynamodb:GetItem"],' +
        `"Resource":["${TABLE}"],"Condition":{"DateLessThan":{"aws:CurrentTime":"2030-01-31T12:15:00Z"}}}]}`,
    );
    expect(JSON.parse(json)).toEqual(document);
  });

  it.each([
    ['a Date', new Date('2030-01-31T12:15:00.999Z')],
    ['a string with milliseconds', '2030-01-31T12:15:00.999Z'],
  ])('takes notAfter as %s, dropping the fraction so the grant ends no later', (_name, notAfter) => {
    // Act
    const { document } = buildSessionPolicy(grant({ notAfter }));

    // Assess
    expect(document.Statement[0]?.Condition).toEqual({
      DateLessThan: { 'aws:CurrentTime': '2030-01-31T12:15:00Z' },
    });
  });

  it('does not share arrays with its input', () => {
    // Prepare
    const actions = ['dynamodb:PutItem'];

    // Act
    const { document } = buildSessionPolicy(grant({ actions }));
    actions.push('dynamodb:DeleteTable');

    // Assess
    expect(document.Statement[0]?.Action).toEqual(['dynamodb:PutItem']);
  });

  it.each<[string, Partial<SessionPolicyInput>, string]>([
    ['a service wildcard', { actions: ['dynamodb:*'] }, 'exact IAM action'],
    ['a bare *', { actions: ['*'] }, 'exact IAM action'],
    ['a ? wildcard', { actions: ['dynamodb:PutIte?'] }, 'exact IAM action'],
    ['a policy variable in an action', { actions: ['dynamodb:${aws:username}'] }, 'exact IAM action'],
    ['an action without a service', { actions: ['NotAction'] }, 'exact IAM action'],
    ['a JSON-breaking action', { actions: ['dynamodb:PutItem"],"NotAction":["x'] }, 'exact IAM action'],
    ['an upper-case service prefix', { actions: ['DynamoDB:PutItem'] }, 'exact IAM action'],
    ['no actions', { actions: [] }, '1 to 10'],
    ['11 actions', { actions: Array.from({ length: 11 }, (_, i) => `dynamodb:Action${i}`) }, '1 to 10'],
    ['a repeated action', { actions: ['dynamodb:PutItem', 'dynamodb:putitem'] }, 'twice'],
    ['a wildcard resource', { resource: 'arn:aws:dynamodb:us-east-1:111122223333:table/*' }, 'one exact ARN'],
    ['a resource of *', { resource: '*' }, 'one exact ARN'],
    ['a ? in the resource', { resource: 'arn:aws:s3:::bucket/?' }, 'one exact ARN'],
    ['a policy variable in the resource', { resource: 'arn:aws:s3:::b/${aws:userid}' }, 'one exact ARN'],
    ['a resource of another partition', { resource: 'arn:aws-iso:s3:::bucket' }, 'one exact ARN'],
    ['a resource with a look-alike letter', { resource: 'arn:aws:s3:::b\u0430cket' }, 'one exact ARN'],
    [
      'a resource named like policy grammar',
      { resource: `${TABLE}-notresource` },
      'NotAction or NotResource',
    ],
    ['a resource with a quote', { resource: `${TABLE}"` }, 'one exact ARN'],
    ['a notAfter with an offset', { notAfter: '2030-01-31T12:15:00+01:00' }, 'UTC ISO-8601'],
    ['a notAfter in local time', { notAfter: 'Jan 31 2030 12:15' }, 'UTC ISO-8601'],
    ['an impossible notAfter', { notAfter: '2030-02-31T25:61:00Z' }, 'not a valid instant'],
    ['an invalid Date', { notAfter: new Date(Number.NaN) }, 'not a valid instant'],
    ['a Date past year 9999', { notAfter: new Date(Date.UTC(10_000, 0, 1)) }, 'not a valid instant'],
  ])('refuses %s', (_name, patch, message) => {
    // Act
    const act = () => buildSessionPolicy(grant(patch));

    // Assess
    expect(act).toThrow(FailClosedError);
    expect(act).toThrow(message);
  });

  it(`refuses a policy longer than STS's ${STS_SESSION_POLICY_MAX_CHARS} characters, and accepts one of exactly that length`, () => {
    // Prepare: the document around the ARN is fixed, so size the object key to land on either side
    const small = buildSessionPolicy(grant({ resource: 'arn:aws:s3:::b/k', actions: ['s3:GetObject'] }));
    const overhead = small.json.length - 'k'.length;
    const atLimit = `arn:aws:s3:::b/${'k'.repeat(STS_SESSION_POLICY_MAX_CHARS - overhead)}`;
    const overLimit = `${atLimit}k`;

    // Act
    const fits = buildSessionPolicy(grant({ resource: atLimit, actions: ['s3:GetObject'] }));
    const act = () => buildSessionPolicy(grant({ resource: overLimit, actions: ['s3:GetObject'] }));

    // Assess
    expect(fits.json).toHaveLength(STS_SESSION_POLICY_MAX_CHARS);
    expect(act).toThrow(FailClosedError);
    expect(act).toThrow('STS accepts at most');
  });
});

describe('sanitizeSourceIdentity', () => {
  const STS_ALPHABET = /^[A-Za-z0-9_+=,.@-]{2,64}$/;

  it.each(['deploy-bot', 'alice@example.com', 'svc_1.2=x,y', 'ab', 'a'.repeat(64)])(
    'passes %s through unchanged',
    (identity) => {
      // Act / Assess
      expect(sanitizeSourceIdentity(identity)).toBe(identity);
    },
  );

  it.each([
    [
      'a URL-shaped subject',
      'repo:acme/api:ref:refs/heads/main',
      /^repo_acme_api_ref_refs_heads_main\+[\w-]{16}$/,
    ],
    ['an over-long subject', 'x'.repeat(65), /^x{47}\+[\w-]{16}$/],
    ['a one-character subject', 'a', /^a\+[\w-]{16}$/],
    ['an empty subject', '', /^\+[\w-]{16}$/],
    ['a subject holding the separator', 'a+b', /^a_b\+[\w-]{16}$/],
    ['a unicode subject', 'rené', /^ren_\+[\w-]{16}$/],
  ])('maps %s to a readable prefix and a hash', (_name, identity, shape) => {
    // Act
    const sanitized = sanitizeSourceIdentity(identity);

    // Assess
    expect(sanitized).toMatch(shape);
    expect(sanitized).toMatch(STS_ALPHABET);
    expect(sanitizeSourceIdentity(identity)).toBe(sanitized);
  });

  it('keeps identities apart that differ only in replaced characters or past the length limit', () => {
    // Prepare
    const identities = [
      'a b',
      'a:b',
      'a/b',
      'a_b',
      'a+b',
      `${'x'.repeat(70)}1`,
      `${'x'.repeat(70)}2`,
      'x'.repeat(64),
    ];

    // Act
    const sanitized = identities.map(sanitizeSourceIdentity);

    // Assess
    expect(new Set(sanitized).size).toBe(identities.length);
  });
});
