import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/project-root.js';

type State = { Type: string; Retry?: Array<{ ErrorEquals: string[] }> };
const asl = JSON.parse(readFileSync(join(PROJECT_ROOT, 'state-machines', 'approval.asl.json'), 'utf8')) as {
  States: Record<string, State>;
};

/** The transient Lambda-service errors AWS recommends retrying on every Lambda task. */
const LAMBDA_TRANSIENT = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.ClientExecutionTimeoutException',
];

describe('approval.asl.json retries', () => {
  const tasks = Object.entries(asl.States).filter(([, s]) => s.Type === 'Task');

  it.each(tasks)('%s retries every transient Lambda error and DependencyError', (_name, state) => {
    const retried = (state.Retry ?? []).flatMap((r) => r.ErrorEquals);
    for (const error of [...LAMBDA_TRANSIENT, 'DependencyError']) expect(retried).toContain(error);
  });

  it('retries RequestNotReadyError where the request may not be readable yet', () => {
    expect(asl.States.RequestApproval?.Retry?.flatMap((r) => r.ErrorEquals)).toContain(
      'RequestNotReadyError',
    );
  });
});
