import { posix } from 'node:path';
import { Duration, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { LAMBDA_BUNDLING, LAMBDA_NODE_OPTIONS } from '../bundling.js';
import { auditLogGroup } from './audit-logs.js';

export interface CountersignFunctionProps {
  /** Absolute path of the handler file (it exports `handler`). */
  readonly entry: string;
  /** Directory holding package-lock.json; esbuild resolves modules from here. */
  readonly projectRoot: string;
  readonly description: string;
  /** esbuild `define` entries (the inlined configuration). */
  readonly define: Record<string, string>;
  readonly environment?: Record<string, string>;
  /** @default 256 */
  readonly memorySize?: number;
  /** @default Duration.seconds(10) */
  readonly timeout?: Duration;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /** Data files the bundle reads at run time (lib/bundling.ts BUNDLE_FILES). @default none */
  readonly files?: ReadonlyArray<{ from: string; to: string }>;
}

/**
 * One Countersign handler as a Lambda function: bundled by the local esbuild (no Docker) into one
 * minified ESM file with every AWS SDK client it imports, an explicit log group it may write to
 * (instead of AWSLambdaBasicExecutionRole, which may create any log group), and its own role that
 * starts empty: each grant is added by the stack, per handler, so what a function may do is read
 * in one place.
 */
export class CountersignFunction extends Construct {
  public readonly function: nodejs.NodejsFunction;
  public readonly role: iam.Role;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: CountersignFunctionProps) {
    super(scope, id);
    this.logGroup = auditLogGroup(this, 'Logs', props.logRetention);
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Countersign ${id}: ${props.description}`,
    });
    this.logGroup.grantWrite(this.role);

    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry: props.entry,
      handler: 'handler',
      projectRoot: props.projectRoot,
      depsLockFilePath: `${props.projectRoot}/package-lock.json`,
      description: props.description,
      // DESIGN.md §2: Node.js 22 or 24 on arm64. The bundle targets node22 so either runtime runs it.
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(10),
      role: this.role,
      logGroup: this.logGroup,
      tracing: lambda.Tracing.ACTIVE,
      environment: {
        ...props.environment,
        NODE_OPTIONS: LAMBDA_NODE_OPTIONS,
      },
      bundling: {
        // The options live in lib/bundling.ts, shared with the benchmarks, so the bundle that is
        // measured is the bundle that is deployed. NodejsFunction spells some of them differently.
        forceDockerBundling: false,
        minify: LAMBDA_BUNDLING.minify,
        keepNames: LAMBDA_BUNDLING.keepNames,
        sourceMap: LAMBDA_BUNDLING.sourcemap,
        sourcesContent: LAMBDA_BUNDLING.sourcesContent,
        target: LAMBDA_BUNDLING.target,
        format: nodejs.OutputFormat.ESM,
        mainFields: [...LAMBDA_BUNDLING.mainFields],
        banner: LAMBDA_BUNDLING.banner.js,
        externalModules: [...LAMBDA_BUNDLING.external],
        define: props.define,
        // esbuild resolves these relative to its working directory, the project root.
        esbuildArgs: Object.fromEntries(
          Object.entries(LAMBDA_BUNDLING.alias).map(([from, to]) => [`--alias:${from}`, to]),
        ),
        ...(props.files?.length
          ? {
              commandHooks: {
                beforeBundling: () => [],
                beforeInstall: () => [],
                afterBundling: (inputDir: string, outputDir: string) =>
                  (props.files ?? []).flatMap(({ from, to }) => [
                    `mkdir -p "${outputDir}/${posix.dirname(to)}"`,
                    `cp "${inputDir}/${from}" "${outputDir}/${to}"`,
                  ]),
              },
            }
          : {}),
      },
    });

    Validations.of(this).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Active X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords have no resource type and require "*".',
    });
  }
}
