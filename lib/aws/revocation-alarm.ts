import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { REVOCATION_CAPACITY_EXHAUSTED, REVOCATION_FAILED } from '../../lambdas/adapters/iam-revoker.js';

export interface RevocationAlarmProps {
  /** The revoke-request function's log group. */
  readonly logGroup: logs.ILogGroup;
  /** @default 'Countersign' */
  readonly metricNamespace?: string;
}

/**
 * Alarms when a revoke could not write its deny (the live sessions keep working until the revoke is
 * retried) and when revocation capacity ran out (every older session of a target role was denied,
 * which usually means an agent is flooding revokes). Both come from the fixed `code` field of the
 * revoker's JSON log lines, so no handler publishes metrics itself. Wire the alarms' actions (SNS,
 * a pager) to whoever must retry revokes.
 */
export class RevocationAlarm extends Construct {
  public readonly failed: cloudwatch.Alarm;
  public readonly capacityExhausted: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: RevocationAlarmProps) {
    super(scope, id);
    const namespace = props.metricNamespace ?? 'Countersign';
    const metricFor = (code: string) => {
      new logs.MetricFilter(this, `${code}Filter`, {
        logGroup: props.logGroup,
        filterPattern: logs.FilterPattern.stringValue('$.code', '=', code),
        metricNamespace: namespace,
        metricName: code,
        metricValue: '1',
        defaultValue: 0,
      });
      return new cloudwatch.Metric({
        namespace,
        metricName: code,
        statistic: 'Sum',
        period: Duration.minutes(1),
      });
    };
    // Any one such line in a minute is an alarm; quiet minutes are not missing data.
    const alarmOn = (id: string, code: string, alarmDescription: string) =>
      new cloudwatch.Alarm(this, id, {
        metric: metricFor(code),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription,
      });
    this.failed = alarmOn(
      'Failed',
      REVOCATION_FAILED,
      'A revoke could not write its deny on a target role: the revoked sessions still work. Retry the revoke (POST /v1/requests/{id}/revoke) and check the revoke-request logs.',
    );
    this.capacityExhausted = alarmOn(
      'CapacityExhausted',
      REVOCATION_CAPACITY_EXHAUSTED,
      'Revocation slots on a target role were full: every older session of the role was denied. Look for an agent flooding revokes.',
    );
  }
}
