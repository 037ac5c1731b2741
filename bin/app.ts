import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { CountersignConfig } from '../lambdas/core/config.js';
import { CloudTrailForwardingStack } from '../lib/aws/cloudtrail-linkage.js';
import { CountersignStack } from '../lib/aws/countersign-stack.js';
import { loadSynthConfig } from '../lib/aws/synth-config.js';
import { CountersignTargetRoleStack } from '../lib/aws/target-role.js';

/**
 * The CDK app (cdk.json: `npx tsx bin/app.ts`). Context keys (`-c key=value` or cdk.json):
 * - configFile       the Countersign YAML (DESIGN.md §3), validated here: a bad file fails synth
 * - stackName        default `Countersign`
 * - local            `true` for the local assembly (`npm start`); without it, a configuration with no
 *   identity.issuer fails synth, since the deployed API would refuse every token
 * - apiGatewayCloudWatchRole  `false` where another stack manages the region's API Gateway
 *   CloudWatch Logs role (default: this stack sets it)
 * - mintingRoleArn   when set, also defines the `CountersignTargetRole` stack for a member account,
 *   with executingRoleArn (optional: the execute-call role, for exact calls in that account),
 *   with revokingRoleArn (required), managedPolicyArns (comma-separated), eventBusArn (optional),
 *   targetRoleName (optional)
 * - forwardRoleArns  when set (comma-separated target role ARNs) with eventBusArn, also defines the
 *   `CountersignForwarding` stack (forwardingStackName): only the CloudTrail forwarding rule, for
 *   another region of an account that already has its target role
 */
const app = new App();
const context = (key: string): string | undefined => {
  const value: unknown = app.node.tryGetContext(key);
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
};

let config: CountersignConfig;
try {
  config = loadSynthConfig(context('configFile') ?? 'config/countersign.example.yaml');
} catch (error) {
  // The message names the file and the key; a stack trace would only bury it.
  console.error((error as Error).message);
  process.exit(1);
}
const flag = (key: string, fallback: boolean): boolean => {
  const value: unknown = app.node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return fallback;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  console.error(`-c ${key} must be true or false, not ${JSON.stringify(value)}`);
  process.exit(1);
};
try {
  new CountersignStack(app, context('stackName') ?? 'Countersign', {
    config,
    description: 'Countersign: approval control plane for AI agents',
    local: flag('local', false),
    apiGatewayCloudWatchRole: flag('apiGatewayCloudWatchRole', true),
  });
} catch (error) {
  // A configuration that cannot deploy (no identity.issuer): the message says what to do.
  console.error((error as Error).message);
  process.exit(1);
}

const forwardRoleArns = (context('forwardRoleArns') ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
if (forwardRoleArns.length > 0) {
  const eventBusArn = context('eventBusArn');
  if (!eventBusArn) {
    console.error(
      'eventBusArn is required with forwardRoleArns: the EventBusArn output of the Countersign stack',
    );
    process.exit(1);
  }
  new CloudTrailForwardingStack(app, context('forwardingStackName') ?? 'CountersignForwarding', {
    description: 'Countersign: forwards calls made with target-role sessions in this region to Countersign',
    roleArns: forwardRoleArns,
    eventBusArn,
  });
}

const mintingRoleArn = context('mintingRoleArn');
if (mintingRoleArn) {
  const eventBusArn = context('eventBusArn');
  const roleName = context('targetRoleName');
  const revokingRoleArn = context('revokingRoleArn');
  if (!revokingRoleArn) {
    // Without it no revocation could reach this account's target role: refuse rather than deploy that.
    console.error(
      'revokingRoleArn is required with mintingRoleArn: pass -c revokingRoleArn=<the RevokeRequestRoleArn output of the Countersign stack>',
    );
    process.exit(1);
  }
  new CountersignTargetRoleStack(app, context('targetStackName') ?? 'CountersignTargetRole', {
    description: 'Countersign: the role approved sessions run as, and its revoker, in a member account',
    mintingRoleArn,
    revokingRoleArn,
    ...(context('executingRoleArn') ? { executingRoleArn: context('executingRoleArn')! } : {}),
    managedPolicyArns: (context('managedPolicyArns') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    ...(eventBusArn ? { eventBusArn } : {}),
    ...(roleName ? { roleName } : {}),
  });
}

Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
