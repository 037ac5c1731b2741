import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { auditLogGroup } from './audit-logs.js';

export interface ApiRoute {
  readonly method: 'GET' | 'POST';
  /** The resource path exactly as in DESIGN.md §4, e.g. `/v1/requests/{id}/credentials`. */
  readonly path: string;
  readonly handler: lambda.IFunction;
  /**
   * Refuse a request without a `Content-Type` header before it reaches Lambda (API Gateway checks
   * presence only; the handler checks the value and answers 415 for anything else).
   * @default false
   */
  readonly requireContentType?: boolean;
}

export interface CountersignApiProps {
  readonly routes: readonly ApiRoute[];
  /** Stage-wide steady-state requests per second. @default 50 */
  readonly throttlingRateLimit?: number;
  /** Stage-wide burst. @default 100 */
  readonly throttlingBurstLimit?: number;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Set the region's API Gateway CloudWatch Logs role (AWS::ApiGateway::Account). The stage's access
   * logging fails to deploy ("CloudWatch Logs role ARN must be set in account settings") in a
   * region where that role was never set. It is one setting per account and region: pass false
   * where another stack or the platform team manages it.
   * @default true
   */
  readonly cloudWatchRole?: boolean;
}

/** A contract-shaped error body (DESIGN.md §4) for the answers API Gateway gives on its own. */
const errorBody = (code: string, message: string) =>
  // `$context.error.messageString` is API Gateway's own text, already quoted and escaped as JSON.
  `{"error":{"code":"${code}","message":${message === '$context.error.messageString' ? message : JSON.stringify(message)}}}`;

/**
 * The REST API: Lambda proxy integrations on the routes of DESIGN.md §4, stage throttling, JSON
 * access logs. There is deliberately no API Gateway authorizer: every handler verifies the caller's
 * JWT itself (aws-jwt-verify, against the configured issuer, audience and groups), because the same
 * handlers run behind the local server where no API Gateway exists, and Slack's callback is
 * authenticated by its HMAC signature, which an authorizer cannot see (it needs the raw body).
 *
 * API Gateway REST cannot lower its 10 MB payload limit, so the body limit is enforced by the
 * handlers (MAX_BODY_BYTES in lambdas/adapters/http.ts, 413 PayloadTooLarge).
 */
export class CountersignApi extends Construct {
  public readonly api: apigateway.RestApi;
  public readonly accessLogs: logs.LogGroup;

  constructor(scope: Construct, id: string, props: CountersignApiProps) {
    super(scope, id);
    this.accessLogs = auditLogGroup(this, 'AccessLogs', props.logRetention);
    this.api = new apigateway.RestApi(this, 'Api', {
      description: 'Countersign: approval control plane for AI agents (DESIGN.md §4)',
      endpointTypes: [apigateway.EndpointType.REGIONAL],
      // Access logging needs the account's per-region API Gateway CloudWatch role. The role is kept
      // when the stack is deleted: other APIs in the region may log through it by then.
      cloudWatchRole: props.cloudWatchRole ?? true,
      ...((props.cloudWatchRole ?? true) ? { cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN } : {}),
      deployOptions: {
        // The paths carry the version (/v1/...); the stage is only the deployment.
        stageName: 'prod',
        throttlingRateLimit: props.throttlingRateLimit ?? 50,
        throttlingBurstLimit: props.throttlingBurstLimit ?? 100,
        tracingEnabled: true,
        accessLogDestination: new apigateway.LogGroupLogDestination(this.accessLogs),
        // No headers and no body: the Authorization header and agents' text never reach these logs.
        accessLogFormat: apigateway.AccessLogFormat.custom(
          JSON.stringify({
            requestId: apigateway.AccessLogField.contextRequestId(),
            extendedRequestId: apigateway.AccessLogField.contextExtendedRequestId(),
            time: apigateway.AccessLogField.contextRequestTime(),
            ip: apigateway.AccessLogField.contextIdentitySourceIp(),
            userAgent: apigateway.AccessLogField.contextIdentityUserAgent(),
            method: apigateway.AccessLogField.contextHttpMethod(),
            resourcePath: apigateway.AccessLogField.contextResourcePath(),
            status: apigateway.AccessLogField.contextStatus(),
            responseLength: apigateway.AccessLogField.contextResponseLength(),
            responseLatency: apigateway.AccessLogField.contextResponseLatency(),
            integrationStatus: apigateway.AccessLogField.contextIntegrationStatus(),
            integrationLatency: apigateway.AccessLogField.contextIntegrationLatency(),
            integrationError: '$context.integrationErrorMessage',
            error: apigateway.AccessLogField.contextErrorMessage(),
            errorType: apigateway.AccessLogField.contextErrorResponseType(),
            xrayTraceId: apigateway.AccessLogField.contextXrayTraceId(),
          }),
        ),
      },
    });

    // Only header presence can be checked cheaply here; bodies are validated by the handlers, which
    // name the bad field in the contract's error shape.
    const validator = this.api.addRequestValidator('RequireHeaders', {
      requestValidatorName: 'require-content-type',
      validateRequestParameters: true,
      validateRequestBody: false,
    });

    for (const route of props.routes) {
      const resource = this.api.root.resourceForPath(route.path);
      resource.addMethod(
        route.method,
        new apigateway.LambdaIntegration(route.handler, { proxy: true, allowTestInvoke: false }),
        route.requireContentType
          ? { requestParameters: { 'method.request.header.Content-Type': true }, requestValidator: validator }
          : {},
      );
    }

    // API Gateway answers some requests itself; give those the contract's error shape too.
    const responses: Array<[string, apigateway.ResponseType, string, string, string]> = [
      // An unknown path or method is "Missing Authentication Token" (403) by default, which misleads.
      ['NotFound', apigateway.ResponseType.MISSING_AUTHENTICATION_TOKEN, '404', 'NotFound', 'No such route.'],
      [
        'MissingContentType',
        apigateway.ResponseType.BAD_REQUEST_PARAMETERS,
        '415',
        'UnsupportedMediaType',
        'The Content-Type header is required.',
      ],
      [
        'TooLarge',
        apigateway.ResponseType.REQUEST_TOO_LARGE,
        '413',
        'PayloadTooLarge',
        'The body is too large.',
      ],
      [
        'Throttled',
        apigateway.ResponseType.THROTTLED,
        '429',
        'RateLimited',
        'Too many requests; retry later.',
      ],
      [
        'Default4xx',
        apigateway.ResponseType.DEFAULT_4XX,
        '',
        'RequestRefused',
        '$context.error.messageString',
      ],
      [
        'Default5xx',
        apigateway.ResponseType.DEFAULT_5XX,
        '',
        'DependencyUnavailable',
        'The request could not be completed; retry later.',
      ],
    ];
    for (const [name, type, statusCode, code, message] of responses) {
      this.api.addGatewayResponse(name, {
        type,
        ...(statusCode ? { statusCode } : {}),
        templates: { 'application/json': errorBody(code, message) },
      });
    }

    const noAuthorizer =
      'No API Gateway authorizer by design: each handler verifies the Bearer JWT itself with aws-jwt-verify (issuer, audience, exp, key id, algorithm, groups; DESIGN.md §4), so the same handlers enforce the same rules behind the local server; the Slack route is authenticated by its HMAC signature over the raw body, which an authorizer cannot see.';
    Validations.of(this.api).acknowledge(
      { id: 'AwsSolutions-APIG4', reason: noAuthorizer },
      { id: 'AwsSolutions-COG4', reason: noAuthorizer },
      {
        id: 'AwsSolutions-APIG6',
        reason:
          'Execution logging is off on purpose: it can log request and response data (Authorization headers, agents’ text); JSON access logs include integration and gateway error messages, and every handler logs its own errors.',
      },
      {
        id: 'AwsSolutions-APIG2',
        reason:
          'The validator checks the required Content-Type header; bodies are validated by the handlers, which answer the contract’s 400 ValidationError naming the bad field (a gateway model would answer a different shape, and only on AWS).',
      },
      {
        id: 'AwsSolutions-APIG3',
        reason:
          'WAF is optional for operators (attach a web ACL to the stage); abuse is bounded by stage throttling and the per-agent request rate limit enforced in the handler (429 RateLimited).',
      },
    );
    if (props.cloudWatchRole ?? true) {
      const role = this.api.node.tryFindChild('CloudWatchRole');
      if (role) {
        Validations.of(role).acknowledge({
          id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
          reason:
            'The API Gateway account CloudWatch role: AWS’s managed policy for it is the documented one, and API Gateway itself, for every API in the region, is the only principal that assumes it.',
        });
      }
    }
  }

  /** The full URL of a resource path on the deployed stage. */
  urlFor(path: string): string {
    return this.api.urlForPath(path);
  }
}
