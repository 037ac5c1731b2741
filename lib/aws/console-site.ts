import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Annotations,
  type CfnElement,
  CfnOutput,
  Duration,
  RemovalPolicy,
  Stack,
  Token,
  Validations,
} from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct, type IConstruct } from 'constructs';
import type { CountersignConfig } from '../../lambdas/core/config.js';
import { buildConsoleInto, consoleCsp } from '../console/build.js';

export interface ConsoleSiteProps {
  /** The API the console calls; CloudFront routes `/v1/*` to it, so the console calls its own origin. */
  readonly api: apigateway.RestApi;
  /** The validated configuration: `identity` (issuer, groups claim), `roles`, `console` (client id, …). */
  readonly config: CountersignConfig;
}

/**
 * The web console on AWS (DESIGN.md §6): the built single-page app in a private S3 bucket, served
 * by CloudFront through origin access control, beside the API (`/v1/*` on the same distribution, so
 * the console needs no CORS and its CSP's `connect-src` is itself plus the issuer). `config.json` is
 * written at deploy time with the issuer, the client id and the roles.
 *
 * - `/` and `/console` redirect to `/console/`; `/console/` and `/console/callback` (the OIDC
 *   redirect URI) serve the one document (a CloudFront Function rewrites them).
 * - Every response carries the console's CSP, HSTS, nosniff, no-referrer and frame denial.
 */
export class ConsoleSite extends Construct {
  public readonly bucket: s3.Bucket;
  public readonly logBucket: s3.Bucket;
  public readonly distribution: cloudfront.Distribution;
  public readonly deployment: s3deploy.BucketDeployment;

  constructor(scope: Construct, id: string, props: ConsoleSiteProps) {
    super(scope, id);
    const { config } = props;
    const issuer = config.identity.issuer ?? '';
    const audience = config.identity.audience;
    const clientId = config.console?.clientId ?? (Array.isArray(audience) ? audience[0]! : audience);
    if (!config.identity.issuer || !config.console) {
      Annotations.of(this).addWarningV2(
        '@countersign/console-config',
        'identity.issuer and console.clientId must be set for the console to sign anyone in (docs/console.md)',
      );
    }

    // One bucket for the logs of both the site bucket and the distribution. CloudFront's standard
    // logs are written with ACLs, hence BUCKET_OWNER_PREFERRED.
    this.logBucket = new s3.Bucket(this, 'Logs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(365) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.bucket = new s3.Bucket(this, 'Site', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      serverAccessLogsBucket: this.logBucket,
      serverAccessLogsPrefix: 'site/',
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: false,
    });

    const connect = [originOf(issuer), originOf(config.console?.tokenEndpoint)].filter(
      (o): o is string => !!o,
    );
    const headers = new cloudfront.ResponseHeadersPolicy(this, 'Headers', {
      comment: 'Countersign console: strict CSP, HSTS, no framing, no sniffing, no referrer',
      securityHeadersBehavior: {
        contentSecurityPolicy: { contentSecurityPolicy: consoleCsp(connect), override: true },
        strictTransportSecurity: {
          accessControlMaxAge: Duration.days(365),
          includeSubdomains: true,
          override: true,
        },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER, override: true },
      },
    });

    const rewrite = new cloudfront.Function(this, 'Rewrite', {
      comment: 'Countersign console: one document for its pages, / to /console/',
      runtime: cloudfront.FunctionRuntime.JS_2_0,
      code: cloudfront.FunctionCode.fromInline(REWRITE_FUNCTION),
    });

    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'Countersign console and API',
      defaultRootObject: '',
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      enableLogging: true,
      logBucket: this.logBucket,
      logFilePrefix: 'cloudfront/',
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: headers,
        functionAssociations: [{ function: rewrite, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }],
      },
      additionalBehaviors: {
        // The API, unchanged and uncached: every header but Host (API Gateway routes on its own).
        '/v1/*': {
          origin: new origins.RestApiOrigin(props.api),
          viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
          allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
          cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
          originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
          responseHeadersPolicy: headers,
        },
      },
    });
    const cfnDistribution = this.distribution.node.defaultChild as IConstruct;
    Validations.of(cfnDistribution).acknowledge(
      {
        id: 'AwsSolutions-CFR1',
        reason:
          'Approvers and auditors sign in from wherever they work; who may use the console is decided by the identity provider and the roles, not by country.',
      },
      {
        id: 'AwsSolutions-CFR2',
        reason:
          'WAF is optional for operators (attach a web ACL to the distribution), as for the API stage; every API call still needs a valid token and the API stage keeps its throttling.',
      },
    );
    Validations.of(cfnDistribution).acknowledge({
      id: 'AwsSolutions-CFR4',
      reason:
        'The distribution uses the default *.cloudfront.net certificate, whose security policy CloudFront fixes at TLSv1; put the console on your own domain and certificate for TLSv1.2_2021 (docs/console.md).',
    });

    const siteDir = mkdtempSync(join(tmpdir(), 'countersign-console-'));
    buildConsoleInto(siteDir);
    this.deployment = new s3deploy.BucketDeployment(this, 'Deploy', {
      destinationBucket: this.bucket,
      destinationKeyPrefix: 'console/',
      sources: [
        s3deploy.Source.asset(siteDir),
        s3deploy.Source.jsonData('config.json', {
          apiUrl: '',
          issuer,
          clientId,
          scope: config.console?.scope ?? 'openid',
          ...(config.console?.authorizationEndpoint
            ? { authorizationEndpoint: config.console.authorizationEndpoint }
            : {}),
          ...(config.console?.tokenEndpoint ? { tokenEndpoint: config.console.tokenEndpoint } : {}),
          groupsClaim: config.identity.groupsClaim,
          roles: config.roles,
        }),
      ],
      // Asset names carry their content hash; index.html and config.json must be fetched fresh.
      cacheControl: [s3deploy.CacheControl.noCache()],
      distribution: this.distribution,
      distributionPaths: ['/console/*'],
      memoryLimit: 256,
    });
    acknowledgeDeploymentHandler(this.deployment, this.bucket);

    const url = `https://${this.distribution.distributionDomainName}`;
    new CfnOutput(this, 'ConsoleUrl', { value: `${url}/console/`, description: 'The web console' });
    new CfnOutput(this, 'ConsoleRedirectUri', {
      value: `${url}/console/callback`,
      description: 'Register as the console client’s redirect URI at your identity provider',
    });
  }
}

/**
 * The bootstrap asset bucket's ARN as cdk-nag prints it (the default synthesizer's qualifier):
 * pseudo-parameters for an environment-agnostic stack, literals when the app pins one.
 */
function assetBucketArn(stack: Stack): string {
  const literal = (value: string, pseudo: string) => (Token.isUnresolved(value) ? `<AWS::${pseudo}>` : value);
  const partition = literal(stack.partition, 'Partition');
  return `arn:${partition}:s3:::cdk-hnb659fds-assets-${literal(stack.account, 'AccountId')}-${literal(stack.region, 'Region')}`;
}

/** `scheme://host[:port]` of a URL, or undefined. */
function originOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/** CloudFront Functions JS 2.0: pages of the console map to its one document; `/` goes to it. */
const REWRITE_FUNCTION = `async function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri === '/' || uri === '/console') {
    return { statusCode: 301, statusDescription: 'Moved Permanently', headers: { location: { value: '/console/' } } };
  }
  if (uri === '/console/' || uri === '/console/callback') request.uri = '/console/index.html';
  return request;
}`;

/**
 * BucketDeployment's upload function is CDK's own (a singleton at stack level): its findings are
 * acknowledged precisely, on its role and function, with why each one is acceptable.
 */
function acknowledgeDeploymentHandler(deployment: s3deploy.BucketDeployment, siteBucket: s3.Bucket): void {
  const role = deployment.handlerRole;
  const fn = role.node.scope as IConstruct;
  const stack = Stack.of(deployment);
  // The managed policy's ARN names the partition through the pseudo-parameter, pinned or not.
  const partition = '<AWS::Partition>';
  Validations.of(role).acknowledge({
    id: `AwsSolutions-IAM4[Policy::arn:${partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]`,
    reason:
      'The CDK BucketDeployment upload function writes its own logs with the AWS managed basic execution policy; it runs only during deployments.',
  });
  const iam5 = (appliesTo: string, reason: string) =>
    Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[${appliesTo}]`, reason });
  const copying =
    'The CDK BucketDeployment upload function copies the console assets from the CDK asset bucket into the console bucket; CDK generates these action groups and object-key wildcards for exactly those two buckets.';
  for (const action of ['s3:GetBucket*', 's3:GetObject*', 's3:List*', 's3:Abort*', 's3:DeleteObject*']) {
    iam5(`Action::${action}`, copying);
  }
  iam5(`Resource::<${stack.getLogicalId(siteBucket.node.defaultChild as CfnElement)}.Arn>/*`, copying);
  iam5(
    `Resource::${assetBucketArn(stack)}/*`,
    'The CDK BucketDeployment upload function reads the console asset from the CDK bootstrap asset bucket of this account and region, where `cdk deploy` uploaded it.',
  );
  iam5(
    'Resource::*',
    'cloudfront:CreateInvalidation and cloudfront:GetInvalidation, granted by BucketDeployment so a deploy refreshes the console at the edge; CDK grants them on "*".',
  );
  Validations.of(fn).acknowledge({
    id: 'AwsSolutions-L1',
    reason:
      'The CDK BucketDeployment upload function runtime is chosen by aws-cdk-lib itself (it bundles the AWS CLI layer for that runtime); it updates with aws-cdk-lib.',
  });
}
