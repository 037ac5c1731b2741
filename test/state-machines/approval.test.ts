import {
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadApprovalDefinition } from '../../lib/local/approval-definition.js';
import { type LocalServer, listenLocal } from '../../lib/local/http-server.js';
import { createLocalStepFunctions, type LocalStepFunctions } from '../../lib/local/step-functions.js';

/**
 * The real state-machines/approval.asl.json, run by the local Step Functions through the real SFN
 * client, with its two Lambda functions replaced by recorders: every path the workflow can take,
 * which steps it calls, and how the execution ends.
 */
const NOTIFY = 'arn:aws:lambda:us-east-1:000000000000:function:notify';
const SETTLE = 'arn:aws:lambda:us-east-1:000000000000:function:settle';

type Call = { fn: 'notify' | 'settle'; payload: Record<string, unknown> };

class Named extends Error {
  constructor(name: string) {
    super(name);
    this.name = name;
  }
}

describe('approval.asl.json', () => {
  let sfn: LocalStepFunctions;
  let server: LocalServer;
  let client: SFNClient;
  const calls = new Map<string, Call[]>();
  const tokens = new Map<string, string>();
  /** Per request: what settle answers, or the error it throws, per step. */
  const settleBehaviour = new Map<string, (step: string) => unknown>();
  /** Requests whose notify step fails with a non-retryable error. */
  const notifyFails = new Set<string>();

  beforeAll(async () => {
    sfn = createLocalStepFunctions({
      stateMachines: [
        {
          name: 'approval',
          definition: loadApprovalDefinition({
            NotifyApproversFunctionArn: NOTIFY,
            SettleRequestFunctionArn: SETTLE,
          }),
        },
      ],
      functions: {
        [NOTIFY]: async (payload) => {
          const p = payload as { requestId: string; taskToken: string };
          calls.get(p.requestId)?.push({ fn: 'notify', payload: { requestId: p.requestId } });
          if (notifyFails.has(p.requestId)) throw new Named('ValidationError');
          tokens.set(p.requestId, p.taskToken);
          return {};
        },
        [SETTLE]: async (payload) => {
          const p = payload as { requestId: string; step: string };
          calls.get(p.requestId)?.push({ fn: 'settle', payload: p });
          const behaviour = settleBehaviour.get(p.requestId)?.(p.step);
          if (behaviour instanceof Error) throw behaviour;
          return behaviour ?? { status: 'APPROVED', notAfter: new Date(Date.now() + 200).toISOString() };
        },
      },
      waitTimeOverrides: { WaitUntilNotAfter: 50 },
      retryIntervalOverrides: {
        RequestApproval: 10,
        Grant: 10,
        TimeOut: 10,
        Expire: 10,
        Denied: 10,
        Abort: 10,
      },
      log: () => undefined,
    });
    server = await listenLocal((req, res) => sfn.handle(req, res));
    client = new SFNClient({
      region: 'us-east-1',
      endpoint: server.url,
      credentials: { accessKeyId: 'LOCALTESTKEY00000001', secretAccessKey: 'x' },
    });
  });
  afterAll(async () => {
    client.destroy();
    await sfn.stop();
    await server.close();
  });

  let n = 0;
  async function start(timeoutSeconds = 30, options: { failNotify?: boolean } = {}) {
    n += 1;
    const requestId = `req_StateMachineTest${String(n).padStart(3, '0')}`;
    calls.set(requestId, []);
    if (options.failNotify) notifyFails.add(requestId);
    const out = await client.send(
      new StartExecutionCommand({
        stateMachineArn: sfn.stateMachineArn('approval'),
        name: requestId,
        input: JSON.stringify({ requestId, approvalTimeoutSeconds: timeoutSeconds }),
      }),
    );
    const token = async () => {
      for (let i = 0; i < 200 && !tokens.has(requestId); i++) await new Promise((r) => setTimeout(r, 10));
      return tokens.get(requestId)!;
    };
    return { requestId, executionArn: out.executionArn!, token };
  }
  const steps = (requestId: string) =>
    calls.get(requestId)!.map((c) => (c.fn === 'notify' ? 'notify' : String(c.payload.step)));

  it('approve: notify, grant, wait until notAfter, expire — and the execution succeeds', async () => {
    const { requestId, executionArn, token } = await start();
    await client.send(
      new SendTaskSuccessCommand({ taskToken: await token(), output: '{"status":"APPROVED"}' }),
    );
    const done = await sfn.whenDone(executionArn);
    expect(done.status).toBe('SUCCEEDED');
    expect(steps(requestId)).toEqual(['notify', 'grant', 'expire']);
  });

  it('deny: the Countersign.Denied failure rewrites the message and ends', async () => {
    const { requestId, executionArn, token } = await start();
    await client.send(
      new SendTaskFailureCommand({ taskToken: await token(), error: 'Countersign.Denied', cause: 'no' }),
    );
    expect((await sfn.whenDone(executionArn)).status).toBe('SUCCEEDED');
    expect(steps(requestId)).toEqual(['notify', 'deny']);
  });

  it('timeout: nobody answers within approvalTimeoutSeconds → timeout step, then done', async () => {
    const { requestId, executionArn } = await start(1);
    settleBehaviour.set(requestId, () => ({ status: 'TIMED_OUT', notAfter: null }));
    expect((await sfn.whenDone(executionArn)).status).toBe('SUCCEEDED');
    expect(steps(requestId)).toEqual(['notify', 'timeout']);
  });

  it('timeout that finds an approval the workflow was never told about continues to the grant', async () => {
    const { requestId, executionArn } = await start(1);
    expect((await sfn.whenDone(executionArn)).status).toBe('SUCCEEDED');
    expect(steps(requestId)).toEqual(['notify', 'timeout', 'expire']);
  });

  it('a grant step that finds the request revoked ends quietly without waiting', async () => {
    const { requestId, executionArn, token } = await start();
    settleBehaviour.set(requestId, (step) =>
      step === 'grant' ? new Named('Countersign.NotGranted') : undefined,
    );
    await client.send(new SendTaskSuccessCommand({ taskToken: await token(), output: '{}' }));
    expect((await sfn.whenDone(executionArn)).status).toBe('SUCCEEDED');
    expect(steps(requestId)).toEqual(['notify', 'grant']);
  });

  it('transient step failures are retried; a step that keeps failing fails the execution visibly', async () => {
    const { requestId, executionArn, token } = await start();
    let expireAttempts = 0;
    settleBehaviour.set(requestId, (step) => {
      if (step !== 'expire') return undefined;
      expireAttempts += 1;
      return new Named('DependencyError');
    });
    await client.send(new SendTaskSuccessCommand({ taskToken: await token(), output: '{}' }));
    const done = await sfn.whenDone(executionArn);
    expect(done).toMatchObject({ status: 'FAILED', error: 'Countersign.SettleFailed' });
    expect(expireAttempts).toBe(7);
  });

  it('a failure while asking aborts: the abort step closes the request with the error, nothing waits', async () => {
    const { requestId, executionArn } = await start(30, { failNotify: true });
    expect((await sfn.whenDone(executionArn)).status).toBe('SUCCEEDED');
    expect(steps(requestId)).toEqual(['notify', 'abort']);
    expect(calls.get(requestId)!.at(-1)!.payload).toMatchObject({ step: 'abort', error: 'ValidationError' });
  });

  it('revoke (StopExecution) ends the execution while it waits; no further step runs', async () => {
    const { requestId, executionArn } = await start();
    await client.send(
      new StopExecutionCommand({ executionArn, error: 'Countersign.Revoked', cause: 'revoked' }),
    );
    expect((await sfn.whenDone(executionArn)).status).toBe('ABORTED');
    expect(steps(requestId)).toEqual(['notify']);
  });
});
