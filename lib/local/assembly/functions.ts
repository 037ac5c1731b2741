import { type ResolveContext, resolveEnvironment } from './intrinsics.js';
import { type LambdaEnvironmentOptions, lambdaEnvironment } from './lambda-environment.js';
import type { RunnableFunction } from './lambda-runner.js';
import type { FunctionModel } from './template.js';

/**
 * A function of the template, ready for the runner: its physical name and ARN from the resolve
 * context, its log group, and the environment Lambda would give it (its template variables
 * resolved, its execution role's credentials, the local AWS endpoint).
 */
export function runnableFunction(
  fn: FunctionModel,
  ctx: ResolveContext,
  options: Omit<LambdaEnvironmentOptions, 'templateEnv'>,
): RunnableFunction {
  const physical = ctx.resources[fn.logicalId];
  const arn = physical?.attributes.Arn;
  if (!physical || !arn)
    throw new Error(`function ${fn.logicalId} has no physical name in the resolve context`);
  const logGroupName = fn.logGroupLogicalId ? ctx.resources[fn.logGroupLogicalId]?.ref : undefined;
  if (fn.logGroupLogicalId && !logGroupName) {
    throw new Error(`function ${fn.logicalId}: log group ${fn.logGroupLogicalId} has no physical name`);
  }
  const shape = {
    name: physical.ref,
    memorySize: fn.memorySize,
    handler: fn.handler,
    assetDir: fn.assetDir,
    runtime: fn.runtime,
    ...(logGroupName ? { logGroupName } : {}),
  };
  return {
    name: physical.ref,
    arn,
    assetDir: fn.assetDir,
    handler: fn.handler,
    timeoutSeconds: fn.timeoutSeconds,
    memorySize: fn.memorySize,
    ...(logGroupName ? { logGroupName } : {}),
    env: lambdaEnvironment(shape, { ...options, templateEnv: resolveEnvironment(fn, ctx) }),
  };
}
