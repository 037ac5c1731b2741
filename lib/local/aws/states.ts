import {
  AwsError,
  type AwsService,
  jsonAnswer,
  jsonBody,
  jsonProtocol,
  type ParsedCall,
  type ServiceEnvironment,
  targetOperation,
  unknownOperation,
} from './service.js';

/**
 * Step Functions (JSON 1.0, `AWSStepFunctions.*`), authorized here and served by the local Step
 * Functions (lib/local/step-functions.ts) through its `handleJson`.
 */

const PREFIX = 'AWSStepFunctions';

/** Operation → the request field holding the resource ARN (`*` for task-token calls). */
const RESOURCE_FIELD: Record<string, string> = {
  StartExecution: 'stateMachineArn',
  StartSyncExecution: 'stateMachineArn',
  DescribeStateMachine: 'stateMachineArn',
  ListExecutions: 'stateMachineArn',
  StopExecution: 'executionArn',
  DescribeExecution: 'executionArn',
  GetExecutionHistory: 'executionArn',
  SendTaskSuccess: '*',
  SendTaskFailure: '*',
  SendTaskHeartbeat: '*',
  ListStateMachines: '*',
};

export interface StepFunctionsBackend {
  handleJson(target: string, body: unknown): Promise<{ status: number; body: unknown }>;
}

export function createStatesService(
  _env: ServiceEnvironment,
  backend: StepFunctionsBackend | undefined,
): AwsService {
  return {
    ...jsonProtocol('states', PREFIX, '1.0'),
    parse(request): ParsedCall {
      const operation = targetOperation(request, PREFIX);
      const field = Object.hasOwn(RESOURCE_FIELD, operation) ? RESOURCE_FIELD[operation] : undefined;
      if (!field) throw unknownOperation(operation);
      const body = jsonBody(request);
      let resource = '*';
      if (field !== '*') {
        const value = body[field];
        if (typeof value !== 'string' || !value.startsWith('arn:')) {
          throw new AwsError('InvalidArn', 400, `Invalid Arn: '${String(value)}'`);
        }
        resource = value;
      }
      const params: Record<string, unknown> = {};
      // Names and ARNs only: never the execution input nor a task token or output.
      for (const key of ['stateMachineArn', 'executionArn', 'name'])
        if (typeof body[key] === 'string') params[key] = body[key];
      return {
        operation,
        authorizations: [{ action: `states:${operation}`, resource }],
        requestParameters: params,
        readOnly: /^(Get|List|Describe)/.test(operation),
        managementEvent: true,
        input: body,
      };
    },
    async serve(call, ctx) {
      if (!backend)
        throw new AwsError(
          'UnknownOperationException',
          400,
          'Step Functions is not configured on this local AWS',
        );
      const answer = await backend.handleJson(`${PREFIX}.${call.operation}`, call.input);
      if (answer.status !== 200) {
        const b = (answer.body ?? {}) as { __type?: string; message?: string };
        throw new AwsError(String(b.__type ?? 'InternalFailure'), answer.status, String(b.message ?? ''));
      }
      const out = (answer.body ?? {}) as Record<string, unknown>;
      const elements: Record<string, unknown> = {};
      for (const key of ['executionArn', 'startDate']) if (out[key] !== undefined) elements[key] = out[key];
      return jsonAnswer(out, '1.0', ctx.requestId, call.operation === 'StartExecution' ? elements : null);
    },
  };
}
