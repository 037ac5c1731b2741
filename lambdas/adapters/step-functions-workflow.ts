import {
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  InvalidToken,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  type SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
  TaskDoesNotExist,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import { DependencyError } from '../core/errors.js';
import type { AccessRequest } from '../core/model.js';
import type { ApprovalWorkflow } from '../core/ports.js';

/** The workflow's input: what `approval.asl.json` reads with `$.requestId` / `$.approvalTimeoutSeconds`. */
export const workflowInput = (request: AccessRequest) =>
  JSON.stringify({
    requestId: request.id,
    approvalTimeoutSeconds: request.policy.approvalTimeoutSeconds ?? 3600,
  });

/** The execution name is the request id: starting twice is idempotent, and operators can find it. */
export const executionArnFor = (stateMachineArn: string, requestId: string) =>
  `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${requestId}`;

export class StepFunctionsWorkflow implements ApprovalWorkflow {
  constructor(
    private readonly client: SFNClient,
    private readonly stateMachineArn: string,
  ) {}

  async start(request: AccessRequest): Promise<void> {
    try {
      await this.client.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name: request.id,
          input: workflowInput(request),
        }),
      );
    } catch (error) {
      // Same name and same input while running is answered with success by Step Functions; this is
      // a finished execution of the same request, which must not be restarted.
      if (error instanceof ExecutionAlreadyExists) return;
      throw new DependencyError('The approval workflow could not be started.', { cause: error });
    }
  }

  async succeed(taskToken: string, output: Record<string, unknown>): Promise<'sent' | 'gone'> {
    return this.send(() =>
      this.client.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) })),
    );
  }

  async fail(taskToken: string, error: string, cause: string): Promise<'sent' | 'gone'> {
    return this.send(() =>
      this.client.send(new SendTaskFailureCommand({ taskToken, error, cause: cause.slice(0, 32_768) })),
    );
  }

  async stop(requestId: string, cause: string): Promise<void> {
    try {
      await this.client.send(
        new StopExecutionCommand({
          executionArn: executionArnFor(this.stateMachineArn, requestId),
          error: 'Countersign.Revoked',
          cause: cause.slice(0, 32_768),
        }),
      );
    } catch (error) {
      // Policy-allowed requests have no execution; a finished one cannot be stopped and need not be.
      if (error instanceof ExecutionDoesNotExist) return;
      throw new DependencyError('The approval workflow could not be stopped.', { cause: error });
    }
  }

  private async send(call: () => Promise<unknown>): Promise<'sent' | 'gone'> {
    try {
      await call();
      return 'sent';
    } catch (error) {
      // The token was used, timed out, or its execution ended: the workflow already moved on.
      if (
        error instanceof TaskTimedOut ||
        error instanceof InvalidToken ||
        error instanceof TaskDoesNotExist
      ) {
        return 'gone';
      }
      throw new DependencyError('The approval workflow could not be resumed.', { cause: error });
    }
  }
}
