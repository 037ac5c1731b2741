import { ValidationError } from './errors.js';

/**
 * Strict ARN parsing for ARNs that end up, verbatim, in a session policy's `Resource`. Anything that
 * IAM would read as more than one resource — a wildcard, a policy variable — or that a human
 * approver could misread — a look-alike letter, an invisible character — is refused here, so the
 * rest of the system only ever sees one exact, printable ARN.
 */

export const PARTITIONS = ['aws', 'aws-cn', 'aws-us-gov'] as const;
export type Partition = (typeof PARTITIONS)[number];

/** IAM's own limit on a resource ARN in a policy. */
export const MAX_ARN_LENGTH = 2048;

export interface Arn {
  /** The ARN exactly as given (already known to be well-formed). */
  readonly arn: string;
  readonly partition: Partition;
  readonly service: string;
  /** Empty for global resources (IAM, S3 buckets). */
  readonly region: string;
  /** Empty where the resource has no account (S3 buckets). */
  readonly account: string;
  /** Everything after the fifth colon; may itself contain `:` and `/`. */
  readonly resource: string;
}

// Printable ASCII without the space: unicode look-alikes (Cyrillic "а"), zero-width characters,
// control characters and whitespace all fall outside it.
const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;
const SERVICE = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;
// us-east-1, eu-central-2, ap-southeast-7, us-gov-west-1, cn-northwest-1
const REGION = /^[a-z]{2}(?:-gov)?-[a-z]+-\d{1,2}$/;
const ACCOUNT = /^\d{12}$/;

/** Why a string is not one exact resource, or undefined when it has no wildcard-like content. */
export function wildcardProblem(value: string): string | undefined {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: names IAM's policy-variable syntax
  if (value.includes('${')) return 'policy variables (${…}) are not allowed';
  if (value.includes('*')) return 'wildcards (*) are not allowed';
  if (value.includes('?')) return 'wildcards (?) are not allowed';
  return undefined;
}

/**
 * Parses one exact ARN, or throws ValidationError(field, …) saying what is wrong.
 * Accepts the partitions aws, aws-cn and aws-us-gov only, and a region that belongs to the partition.
 */
export function parseArn(value: unknown, field = 'resource'): Arn {
  if (typeof value !== 'string') throw new ValidationError(field, `${field} must be a string ARN`);
  if (value.length === 0) throw new ValidationError(field, `${field} must not be empty`);
  if (value.length > MAX_ARN_LENGTH) {
    throw new ValidationError(field, `${field} is longer than ${MAX_ARN_LENGTH} characters`);
  }
  if (!PRINTABLE_ASCII.test(value)) {
    throw new ValidationError(
      field,
      `${field} may contain only printable ASCII characters (no spaces, control characters or look-alike letters)`,
    );
  }
  // `"` and `\` are the characters JSON must escape: without them the ARN appears in a policy
  // document, a log line or a Slack message exactly as written, and cannot fake document structure.
  if (value.includes('"') || value.includes('\\')) {
    throw new ValidationError(field, `${field} may not contain quotes or backslashes`);
  }
  const wildcard = wildcardProblem(value);
  if (wildcard) throw new ValidationError(field, `${field}: ${wildcard}; name exactly one resource`);

  const parts = value.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') {
    throw new ValidationError(
      field,
      `${field} must be a full ARN (arn:partition:service:region:account:resource)`,
    );
  }
  const [, partition = '', service = '', region = '', account = ''] = parts;
  const resource = parts.slice(5).join(':');

  if (!(PARTITIONS as readonly string[]).includes(partition)) {
    throw new ValidationError(field, `${field}: partition must be one of ${PARTITIONS.join(', ')}`);
  }
  if (!SERVICE.test(service))
    throw new ValidationError(field, `${field}: "${service}" is not a service name`);
  if (region !== '') {
    if (!REGION.test(region)) throw new ValidationError(field, `${field}: "${region}" is not an AWS region`);
    if (regionPartition(region) !== partition) {
      throw new ValidationError(field, `${field}: region ${region} is not in partition ${partition}`);
    }
  }
  if (account !== '' && !ACCOUNT.test(account)) {
    throw new ValidationError(field, `${field}: the account must be 12 digits`);
  }
  if (resource === '') throw new ValidationError(field, `${field}: the resource part is empty`);

  return { arn: value, partition: partition as Partition, service, region, account, resource };
}

function regionPartition(region: string): Partition {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}
