import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  InvalidName,
  InvalidToken,
  ListExecutionsCommand,
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StateMachineDoesNotExist,
  StopExecutionCommand,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type LocalServer, listenLocal } from '../../lib/local/http-server.js';
import { createLocalStepFunctions, type LocalStepFunctions } from '../../lib/local/step-functions.js';
import { isValidName } from '../../lib/local/step-functions-api.js';
import { failure } from './helpers.js';

const NOTIFY_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:notify';

/** A tiny approval flow: Choice → callback task (timeout from the input, Catch on States.Timeout) → Wait → invoke. */
const definition = {
  StartAt: 'Route',
  States: {
    Route: {
      Type: 'Choice',
      // A missing Variable is a States.Runtime failure (as on AWS), hence IsPresent first.
      Choices: [
        {
          And: [
            { Variable: '$.mode', IsPresent: true },
            { Variable: '$.mode', StringEquals: 'direct' },
          ],
          Next: 'Done',
        },
      ],
      Default: 'Ask',
    },
    Ask: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: {
        FunctionName: NOTIFY_ARN,
        Payload: { 'token.$': '$$.Task.Token', 'requestId.$': '$.requestId' },
      },
      TimeoutSecondsPath: '$.timeoutSeconds',
      ResultPath: '$.decision',
      Catch: [{ ErrorEquals: ['States.Timeout'], ResultPath: '$.error', Next: 'TimedOut' }],
      Next: 'Pause',
    },
    Pause: { Type: 'Wait', Seconds: 3600, Next: 'Record' },
    Record: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: 'record', 'Payload.$': '$' },
      ResultPath: '$.record',
      Retry: [{ ErrorEquals: ['DependencyError'], MaxAttempts: 2, IntervalSeconds: 5 }],
      Next: 'Done',
    },
    TimedOut: { Type: 'Pass', Result: 'timed out', ResultPath: '$.outcome', End: true },
    Done: { Type: 'Succeed' },
  },
};

class DependencyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DependencyError';
  }
}

describe('local Step Functions through the real SFNClient', () => {
  let sfn: LocalStepFunctions;
  let server: LocalServer;
  let client: SFNClient;
  let notified: Array<{ token: string; requestId: string }>;
  let recorded: unknown[];
  let recordFailures: number;
  let warnings: string[];
  let arn: string;

  beforeAll(async () => {
    warnings = [];
    sfn = createLocalStepFunctions({
      stateMachines: [{ name: 'approval', definition }],
      functions: {
        [NOTIFY_ARN]: async (payload) => {
          notified.push(payload as { token: string; requestId: string });
          return { posted: true };
        },
        record: async (payload) => {
          if (recordFailures > 0) {
            recordFailures--;
            throw new DependencyError('database busy');
          }
          recorded.push(payload);
          return { stored: true };
        },
      },
      waitTimeOverrides: { Pause: 5 },
      retryIntervalOverrides: { Record: 0 },
      log: (m) => warnings.push(m),
    });
    server = await listenLocal(sfn.handle);
    client = new SFNClient({
      endpoint: server.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
    arn = sfn.stateMachineArn('approval');
  });

  beforeEach(() => {
    notified = [];
    recorded = [];
    recordFailures = 0;
  });

  afterAll(async () => {
    await sfn.stop();
    client.destroy();
    await server.close();
  });

  async function start(name: string, input: Record<string, unknown>) {
    return client.send(
      new StartExecutionCommand({ stateMachineArn: arn, name, input: JSON.stringify(input) }),
    );
  }

  async function tokenFor(requestId: string): Promise<string> {
    for (let i = 0; i < 200; i++) {
      const hit = notified.find((n) => n.requestId === requestId);
      if (hit) return hit.token;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error(`no task token was sent for ${requestId}`);
  }

  it('resumes on SendTaskSuccess, retries a DependencyError, and returns the lambda:invoke result shape', async () => {
    // Prepare
    recordFailures = 1;
    const { executionArn } = await start('req-success', { requestId: 'req-success', timeoutSeconds: 30 });
    const token = await tokenFor('req-success');

    // Act
    await client.send(new SendTaskHeartbeatCommand({ taskToken: token }));
    await client.send(
      new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify({ approved: true }) }),
    );
    await sfn.whenDone(executionArn!);
    const described = await client.send(new DescribeExecutionCommand({ executionArn }));

    // Assess
    expect(described.status).toBe('SUCCEEDED');
    expect(described.stopDate).toBeInstanceOf(Date);
    expect(described.startDate!.getTime()).toBeLessThanOrEqual(described.stopDate!.getTime());
    const output = JSON.parse(described.output!);
    expect(output.decision).toEqual({ approved: true });
    expect(output.record).toEqual({ ExecutedVersion: '$LATEST', Payload: { stored: true }, StatusCode: 200 });
    expect(recordFailures).toBe(0);
    expect(recorded).toEqual([
      { requestId: 'req-success', timeoutSeconds: 30, decision: { approved: true } },
    ]);
    expect(token.length).toBeGreaterThan(100);
    expect(token.length).toBeLessThanOrEqual(2048);
  });

  it('answers TaskTimedOut for a token whose task already completed', async () => {
    // Prepare
    const { executionArn } = await start('req-reuse', { requestId: 'req-reuse', timeoutSeconds: 30 });
    const token = await tokenFor('req-reuse');
    await client.send(new SendTaskSuccessCommand({ taskToken: token, output: '{"approved":true}' }));

    // Act
    const reuse = await failure(
      client.send(new SendTaskSuccessCommand({ taskToken: token, output: '{"approved":false}' })),
    );
    const fail = await failure(
      client.send(new SendTaskFailureCommand({ taskToken: token, error: 'Denied' })),
    );
    const beat = await failure(client.send(new SendTaskHeartbeatCommand({ taskToken: token })));

    // Assess
    expect(reuse).toBeInstanceOf(TaskTimedOut);
    expect(fail).toBeInstanceOf(TaskTimedOut);
    expect(beat).toBeInstanceOf(TaskTimedOut);
    const done = await sfn.whenDone(executionArn!);
    expect(JSON.parse(done.output!).decision).toEqual({ approved: true });
  });

  it('fails the execution with the error and cause given to SendTaskFailure', async () => {
    // Prepare
    const { executionArn } = await start('req-denied', { requestId: 'req-denied', timeoutSeconds: 30 });
    const token = await tokenFor('req-denied');

    // Act
    await client.send(
      new SendTaskFailureCommand({ taskToken: token, error: 'Denied', cause: 'alice said no' }),
    );
    await sfn.whenDone(executionArn!);
    const described = await client.send(new DescribeExecutionCommand({ executionArn }));

    // Assess
    expect(described.status).toBe('FAILED');
    expect(described.error).toBe('Denied');
    expect(described.cause).toBe('alice said no');
    expect(described.output).toBeUndefined();
    expect(recorded).toEqual([]);
  });

  it('times a callback out after TimeoutSecondsPath seconds, is caught as States.Timeout, and kills the token', async () => {
    // Prepare
    const started = Date.now();
    const { executionArn } = await start('req-timeout', { requestId: 'req-timeout', timeoutSeconds: 1 });
    const token = await tokenFor('req-timeout');

    // Act
    const done = await sfn.whenDone(executionArn!);
    const late = await failure(
      client.send(new SendTaskSuccessCommand({ taskToken: token, output: '{"approved":true}' })),
    );

    // Assess
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(done.status).toBe('SUCCEEDED');
    const output = JSON.parse(done.output!);
    expect(output.outcome).toBe('timed out');
    expect(output.error.Error).toBe('States.Timeout');
    expect(output.decision).toBeUndefined();
    expect(late).toBeInstanceOf(TaskTimedOut);
  });

  it('answers InvalidToken for a token it never issued', async () => {
    // Act
    const garbage = await failure(
      client.send(new SendTaskSuccessCommand({ taskToken: 'not-a-token', output: '{}' })),
    );
    const forged = await failure(
      client.send(new SendTaskFailureCommand({ taskToken: 'A'.repeat(1024), error: 'x' })),
    );

    // Assess
    expect(garbage).toBeInstanceOf(InvalidToken);
    expect(forged).toBeInstanceOf(InvalidToken);
  });

  it('treats StartExecution with the same name and input as the same running execution', async () => {
    // Prepare
    const input = { requestId: 'req-idem', timeoutSeconds: 30 };
    const first = await start('req-idem', input);
    const token = await tokenFor('req-idem');

    // Act
    const again = await start('req-idem', input);
    const otherInput = await failure(start('req-idem', { ...input, timeoutSeconds: 31 }));

    // Assess
    expect(again.executionArn).toBe(first.executionArn);
    expect(again.startDate?.getTime()).toBe(first.startDate?.getTime());
    expect(otherInput).toBeInstanceOf(ExecutionAlreadyExists);
    expect(notified.filter((n) => n.requestId === 'req-idem')).toHaveLength(1);

    // Act: after it ended, the name can never be used again
    await client.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' }));
    await sfn.whenDone(first.executionArn!);
    expect(await failure(start('req-idem', input))).toBeInstanceOf(ExecutionAlreadyExists);
  });

  it('refuses bad names, unknown state machines and unknown executions with the AWS error classes', async () => {
    // Act
    const badName = await failure(start('has space', {}));
    const tooLong = await failure(start('x'.repeat(81), {}));
    const unknownMachine = await failure(
      client.send(new StartExecutionCommand({ stateMachineArn: arn.replace('approval', 'nope'), name: 'x' })),
    );
    const unknownExecution = await failure(
      client.send(
        new DescribeExecutionCommand({
          executionArn: arn.replace(':stateMachine:', ':execution:').concat(':nope'),
        }),
      ),
    );

    // Assess
    expect(badName).toBeInstanceOf(InvalidName);
    expect(tooLong).toBeInstanceOf(InvalidName);
    expect(unknownMachine).toBeInstanceOf(StateMachineDoesNotExist);
    expect(unknownExecution).toBeInstanceOf(ExecutionDoesNotExist);
    expect(isValidName('req_01HZX-abc.1')).toBe(true);
    expect(isValidName('a/b')).toBe(false);
    expect(isValidName('tab\there')).toBe(false);
  });

  it('StopExecution aborts the execution and invalidates its token', async () => {
    // Prepare
    const { executionArn } = await start('req-stop', { requestId: 'req-stop', timeoutSeconds: 30 });
    const token = await tokenFor('req-stop');

    // Act
    const stopped = await client.send(
      new StopExecutionCommand({ executionArn, error: 'Revoked', cause: 'by bob' }),
    );
    const described = await client.send(new DescribeExecutionCommand({ executionArn }));
    const late = await failure(client.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' })));

    // Assess
    expect(stopped.stopDate).toBeInstanceOf(Date);
    expect(described.status).toBe('ABORTED');
    expect(described.error).toBe('Revoked');
    expect(described.cause).toBe('by bob');
    expect(late).toBeInstanceOf(TaskTimedOut);
    expect(recorded).toEqual([]);
  });

  it('takes the Choice branch without calling anything, and lists executions', async () => {
    // Act
    const { executionArn } = await start('direct-1', { mode: 'direct' });
    const done = await sfn.whenDone(executionArn!);
    const listed = await client.send(
      new ListExecutionsCommand({ stateMachineArn: arn, statusFilter: 'SUCCEEDED' }),
    );

    // Assess
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output!)).toEqual({ mode: 'direct' });
    expect(notified).toEqual([]);
    expect(listed.executions?.map((e) => e.name)).toContain('direct-1');
    expect(listed.executions?.every((e) => e.status === 'SUCCEEDED')).toBe(true);
  });

  it('fails the execution with the thrown error name when a function fails and nothing catches it', async () => {
    // Prepare
    recordFailures = 5; // more than Retry's MaxAttempts
    const { executionArn } = await start('req-broken', { requestId: 'req-broken', timeoutSeconds: 30 });
    const token = await tokenFor('req-broken');

    // Act
    await client.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' }));
    const done = await sfn.whenDone(executionArn!);

    // Assess
    expect(done.status).toBe('FAILED');
    expect(done.error).toBe('DependencyError');
    expect(JSON.parse(done.cause!)).toMatchObject({
      errorType: 'DependencyError',
      errorMessage: 'database busy',
    });
    expect(recordFailures).toBe(2); // one attempt plus two retries
  });
});

describe('local Step Functions set-up', () => {
  it('refuses a callback task that does not pass $$.Task.Token, and warns about a missing timeout', () => {
    // Prepare
    const warnings: string[] = [];
    const task = (parameters: object) => ({
      StartAt: 'Ask',
      States: {
        Ask: {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
          Parameters: parameters,
          End: true,
        },
      },
    });

    // Act
    const withoutToken = () =>
      createLocalStepFunctions({
        stateMachines: [{ name: 'bad', definition: task({ FunctionName: 'f', Payload: {} }) }],
        functions: {},
      });
    createLocalStepFunctions({
      stateMachines: [
        { name: 'ok', definition: task({ FunctionName: 'f', Payload: { 'token.$': '$$.Task.Token' } }) },
      ],
      functions: {},
      log: (m) => warnings.push(m),
    });

    // Assess
    expect(withoutToken).toThrow(/\$\$\.Task\.Token/);
    expect(warnings.join('\n')).toMatch(/without TimeoutSeconds/);
  });

  it('does not let States.TaskFailed catch a callback timeout (AWS: it matches everything but States.Timeout)', async () => {
    // Prepare
    const sfn = createLocalStepFunctions({
      stateMachines: [
        {
          name: 'catch-order',
          definition: {
            StartAt: 'Ask',
            States: {
              Ask: {
                Type: 'Task',
                Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
                Parameters: { FunctionName: 'f', Payload: { 'token.$': '$$.Task.Token' } },
                TimeoutSeconds: 1,
                Catch: [
                  { ErrorEquals: ['States.TaskFailed'], Next: 'Failed' },
                  { ErrorEquals: ['States.Timeout'], Next: 'TimedOut' },
                ],
                End: true,
              },
              Failed: { Type: 'Pass', Result: 'failed', End: true },
              TimedOut: { Type: 'Pass', Result: 'timed out', End: true },
            },
          },
        },
      ],
      functions: { f: async () => ({}) },
    });
    const server = await listenLocal(sfn.handle);
    const client = new SFNClient({
      endpoint: server.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });

    // Act
    const { executionArn } = await client.send(
      new StartExecutionCommand({ stateMachineArn: sfn.stateMachineArn('catch-order'), name: 'late' }),
    );
    const done = await sfn.whenDone(executionArn!);

    // Assess
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output!)).toBe('timed out');
    await sfn.stop();
    client.destroy();
    await server.close();
  });

  it('stop() aborts running executions and frees their tokens', async () => {
    // Prepare
    const tokens: string[] = [];
    const sfn = createLocalStepFunctions({
      stateMachines: [
        {
          name: 'wait',
          definition: {
            StartAt: 'Ask',
            States: {
              Ask: {
                Type: 'Task',
                Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
                Parameters: { FunctionName: 'f', Payload: { 'token.$': '$$.Task.Token' } },
                TimeoutSeconds: 600,
                End: true,
              },
            },
          },
        },
      ],
      functions: { f: async (p) => void tokens.push((p as { token: string }).token) },
    });
    const server = await listenLocal(sfn.handle);
    const client = new SFNClient({
      endpoint: `${server.url}/aws/sfn`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
    const { executionArn } = await client.send(
      new StartExecutionCommand({ stateMachineArn: sfn.stateMachineArn('wait'), name: 'one' }),
    );
    while (tokens.length === 0) await new Promise((r) => setTimeout(r, 5));

    // Act
    await sfn.stop();
    const late = await failure(
      client.send(new SendTaskSuccessCommand({ taskToken: tokens[0], output: '{}' })),
    );

    // Assess
    expect(sfn.executions().find((e) => e.executionArn === executionArn)?.status).toBe('ABORTED');
    expect(late).toBeInstanceOf(TaskTimedOut);
    client.destroy();
    await server.close();
  });
});
