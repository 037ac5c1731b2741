import { RemovalPolicy } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

/**
 * A log group that is part of the audit trail (who called, what was refused, what ran): kept a year
 * unless the operator says otherwise, and retained when the stack is deleted.
 */
export function auditLogGroup(
  scope: Construct,
  id: string,
  retention: logs.RetentionDays | undefined,
  props: Omit<logs.LogGroupProps, 'retention' | 'removalPolicy'> = {},
): logs.LogGroup {
  return new logs.LogGroup(scope, id, {
    ...props,
    retention: retention ?? logs.RetentionDays.ONE_YEAR,
    removalPolicy: RemovalPolicy.RETAIN,
  });
}
