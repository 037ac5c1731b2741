import { beforeAll, describe, expect, it } from 'vitest';
import { synthCountersign } from './synth.js';

/**
 * request-access learns Countersign's own resources (never grantable, lambdas/core/never-grantable.ts)
 * from COUNTERSIGN_OWN_RESOURCES, which the stack builds from what it creates. The template must set
 * it, on request-access only, naming the table, the state machine, the functions' roles and the
 * secret — and without a dependency cycle (synthesis would fail).
 */
describe('COUNTERSIGN_OWN_RESOURCES', () => {
  let variables: Record<string, Record<string, unknown>>;
  let stack: ReturnType<typeof synthCountersign>['stack'];
  let json: string;

  beforeAll(() => {
    const synth = synthCountersign();
    stack = synth.stack;
    const functions = synth.template.findResources('AWS::Lambda::Function');
    variables = Object.fromEntries(
      Object.entries(functions).map(([id, resource]) => [
        id,
        (resource.Properties as { Environment?: { Variables?: Record<string, unknown> } }).Environment
          ?.Variables ?? {},
      ]),
    );
    const requestAccessId = stack.getLogicalId(
      stack.functions.requestAccess.function.node.defaultChild as import('aws-cdk-lib').CfnElement,
    );
    json = JSON.stringify(variables[requestAccessId]?.COUNTERSIGN_OWN_RESOURCES ?? null);
  }, 120_000);

  it('is set on request-access and nowhere else', () => {
    const withIt = Object.entries(variables).filter(([, v]) => v.COUNTERSIGN_OWN_RESOURCES !== undefined);
    expect(withIt).toHaveLength(1);
    expect(json).not.toBe('null');
  });

  it('names the table, the state machine, the roles and the secret', () => {
    const ref = (construct: { node: { defaultChild?: unknown } }) =>
      stack.getLogicalId(construct.node.defaultChild as import('aws-cdk-lib').CfnElement);
    expect(json).toContain(ref(stack.table.table));
    expect(json).toContain(ref(stack.approval.stateMachine));
    expect(json).toContain(ref(stack.functions.claimCredentials.role));
    expect(json).toContain(ref(stack.functions.revokeRequest.role));
    expect(json).toContain(ref(stack.functions.requestAccess.role));
    expect(json).toContain(ref(stack.slackSecret.secret));
  });
});
