import type { CfnElement } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { HistoryKey } from '../../lib/aws/history-key.js';
import { synthCountersign } from '../infra/synth.js';

/**
 * Attacker pass: the history key is Countersign's own resource. Whoever may call kms:GenerateMac
 * with it can forge history links, so an agent must never be granted any action on it — it must
 * be in COUNTERSIGN_OWN_RESOURCES (never grantable) beside the table, the roles and the secret.
 */
describe('attacker pass: the history key is never grantable', () => {
  let synth: ReturnType<typeof synthCountersign>;
  beforeAll(() => {
    synth = synthCountersign();
  }, 180_000);

  it('exists, and request-access lists it among Countersign’s own resources', () => {
    const { stack, template } = synth;
    const historyKey = stack.node.tryFindChild('HistoryKey');
    expect(historyKey).toBeInstanceOf(HistoryKey);
    const keyId = stack.getLogicalId((historyKey as HistoryKey).key.node.defaultChild as CfnElement);
    const requestAccessId = stack.getLogicalId(
      stack.functions.requestAccess.function.node.defaultChild as CfnElement,
    );
    const fn = template.findResources('AWS::Lambda::Function')[requestAccessId] as {
      Properties: { Environment: { Variables: Record<string, unknown> } };
    };
    const own = JSON.stringify(fn.Properties.Environment.Variables.COUNTERSIGN_OWN_RESOURCES);
    expect(own).toContain(keyId);
    // And every function that writes evidence holds its id, so the history is keyed.
    const functions = template.findResources('AWS::Lambda::Function') as Record<
      string,
      { Properties: { Environment?: { Variables?: Record<string, unknown> } } }
    >;
    const executeId = stack.getLogicalId(
      stack.functions.executeCall.function.node.defaultChild as CfnElement,
    );
    expect(JSON.stringify(functions[executeId]!.Properties.Environment?.Variables?.HISTORY_KEY_ID)).toContain(
      keyId,
    );
  });
});
