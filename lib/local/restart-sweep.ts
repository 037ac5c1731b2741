import { type DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { TABLE_DESIGN } from '../../lambdas/adapters/table-design.js';
import { createLocalDynamoDbClient } from './dynamodb-local.js';
import type { LocalStepFunctions } from './step-functions.js';

/**
 * The local durability promise (docs/local-aws.md, "Local durability"). The local Step Functions
 * keeps its executions in memory, so a restart loses the workflow of every request that was waiting
 * for approvers (PENDING) or for its grant's end (APPROVED). On start, on a data dir, this sweep
 * starts each lost execution again through the local Step Functions, with the input request-access
 * gives it (adapters/step-functions-workflow.ts) and the same execution name (the request id), so
 * the system itself settles what the lost workflow would have:
 *
 * - PENDING: the execution's approval timeout is what is left of the original one (counted from the
 *   request's creation, as the first execution's was), at least 1 s. The notify step rewrites the
 *   approval message it already posted (`request.slack`) instead of posting a second one; the
 *   request stays decidable until its original deadline, then the TimeOut step records TIMED_OUT
 *   with its outcome.
 * - APPROVED (by people): the notify step finds the request decided and answers its own task token
 *   (workflow-steps.ts), so the execution goes on to Grant, waits until `notAfter` and Expire
 *   records EXPIRED with its outcome and updates the Slack message, as the lost one would have.
 *
 * Requests allowed by policy never had a workflow and are left alone (their grant ends by
 * `effectiveStatus`). The requests are found with Queries on the sparse `byStatus` index, never a
 * Scan.
 */

/** The statuses whose workflow is still running when nothing went wrong. */
const SWEPT_STATUSES = ['PENDING', 'APPROVED'] as const;

export interface SweptRequest {
  id: string;
  status: string;
  createdAt: string;
  policy?: { effect?: string; approvalTimeoutSeconds?: number };
}

export interface RestartSweepOptions {
  dynamodb: DynamoDBClient;
  tableName: string;
  /** StartExecution on the approval state machine; resolves whether it was started. */
  startExecution(name: string, input: string): Promise<'started' | 'exists'>;
  now?: () => Date;
  log?: (line: string) => void;
}

export interface RestartSweepResult {
  /** Request ids whose workflow was started again, by status. */
  resumed: Record<(typeof SWEPT_STATUSES)[number], string[]>;
  /** Request ids whose execution already existed (nothing was lost). */
  existing: string[];
}

/** Seconds left of the request's approval timeout at `now`, counted from its creation; at least 1. */
function remainingApprovalSeconds(request: SweptRequest, now: Date): number {
  const timeout = request.policy?.approvalTimeoutSeconds ?? 3600;
  const deadline = Date.parse(request.createdAt) + timeout * 1000;
  const left = Math.ceil((deadline - now.getTime()) / 1000);
  // Step Functions wants a positive timeout: a request already past its deadline times out at once.
  return Number.isFinite(left) ? Math.min(timeout, Math.max(1, left)) : 1;
}

/** Every request in `status`, oldest first, read from the byStatus index page by page. */
async function* requestsIn(
  dynamodb: DynamoDBClient,
  tableName: string,
  status: string,
): AsyncGenerator<SweptRequest> {
  const index = TABLE_DESIGN.indexes.byStatus;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamodb.send(
      new QueryCommand({
        TableName: tableName,
        IndexName: 'byStatus',
        KeyConditionExpression: '#pk = :status',
        ExpressionAttributeNames: { '#pk': index.partitionKey, '#id': 'id', '#st': 'status' },
        ExpressionAttributeValues: { ':status': { S: status } },
        ProjectionExpression: '#id, #st, createdAt, policy',
        ...(startKey ? { ExclusiveStartKey: startKey as never } : {}),
      }),
    );
    for (const item of page.Items ?? []) yield unmarshall(item) as SweptRequest;
    startKey = page.LastEvaluatedKey;
  } while (startKey);
}

/** Starts the lost workflow of every PENDING and human-APPROVED request again (see above). */
async function sweepLostWorkflows(options: RestartSweepOptions): Promise<RestartSweepResult> {
  const now = options.now ?? (() => new Date());
  const result: RestartSweepResult = { resumed: { PENDING: [], APPROVED: [] }, existing: [] };
  for (const status of SWEPT_STATUSES) {
    for await (const request of requestsIn(options.dynamodb, options.tableName, status)) {
      // Only requests that needed people ever had a workflow.
      if (request.policy?.effect !== 'approve' || typeof request.id !== 'string') continue;
      const approvalTimeoutSeconds = remainingApprovalSeconds(request, now());
      // The execution input of approval.asl.json, as workflowInput builds it, with the time left.
      const input = JSON.stringify({ requestId: request.id, approvalTimeoutSeconds });
      const answer = await options.startExecution(request.id, input);
      if (answer === 'exists') {
        result.existing.push(request.id);
        continue;
      }
      result.resumed[status].push(request.id);
      options.log?.(
        JSON.stringify({
          level: 'INFO',
          part: 'restart-sweep',
          message: 'workflow started again',
          requestId: request.id,
          status,
          approvalTimeoutSeconds,
        }),
      );
    }
  }
  options.log?.(
    JSON.stringify({
      level: 'INFO',
      part: 'restart-sweep',
      message: 'workflows lost to a restart started again',
      pending: result.resumed.PENDING.length,
      approved: result.resumed.APPROVED.length,
    }),
  );
  return result;
}

/** The sweep as `startLocalStack` runs it: DynamoDB Local directly, StartExecution on the local Step Functions. */
export async function sweepAfterRestart(
  dynamodbEndpoint: string,
  tableName: string,
  sfn: LocalStepFunctions,
  stateMachineName: string | undefined,
  log: (line: string) => void,
): Promise<RestartSweepResult | undefined> {
  if (!stateMachineName) return undefined;
  const stateMachineArn = sfn.stateMachineArn(stateMachineName);
  const dynamodb = createLocalDynamoDbClient(dynamodbEndpoint);
  try {
    return await sweepLostWorkflows({
      dynamodb,
      tableName,
      log,
      async startExecution(name, input) {
        const answer = await sfn.handleJson('AWSStepFunctions.StartExecution', {
          stateMachineArn,
          name,
          input,
        });
        if (answer.status === 200) return 'started';
        const code = (answer.body as { __type?: string } | undefined)?.__type;
        if (code === 'ExecutionAlreadyExists') return 'exists';
        throw new Error(`restart sweep: StartExecution for ${name} answered ${answer.status} ${code}`);
      },
    });
  } finally {
    dynamodb.destroy();
  }
}
