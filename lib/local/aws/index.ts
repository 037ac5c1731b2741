import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BodyTooLargeError, readBody } from '../http-server.js';
import { authenticate, guessService, protocolOf, sourceIpOf, unparsedEventName } from './caller.js';
import {
  type CloudTrailRecord,
  type CloudTrailUserIdentity,
  cloudTrailRecord,
  identityOf,
  isReadOnlyOperation,
} from './cloudtrail.js';
import { createDynamoDbService } from './dynamodb.js';
import { createIamService } from './iam.js';
import { type ParsedPolicy, parsePolicy, type RequestContext } from './iam-policy.js';
import { createKmsService } from './kms.js';
import { type Principal, Principals, type StsSessionRecord } from './principals.js';
import { createS3Service } from './s3.js';
import { createSecretsManagerService } from './secretsmanager.js';
import {
  AwsError,
  type AwsRequest,
  type AwsService,
  type CallContext,
  commonError,
  errorAnswer,
  type ParsedCall,
  type ServiceAnswer,
  type ServiceEnvironment,
} from './service.js';
import { parseAuthorization } from './sigv4.js';
import { createStatesService } from './states.js';
import { assumeRoleResponseElements, createStsService } from './sts.js';

/**
 * One local AWS endpoint, like LocalStack's edge port (DESIGN.md §2): every request is dispatched on
 * its SigV4 credential scope's service, its signature verified exactly, its caller resolved from the
 * access key, the call authorized with IAM's policy evaluation logic, then served — and every call,
 * allowed or refused, becomes a CloudTrail record. What is learned of a request before a service
 * parses it (its service, protocol, source and signer) is caller.ts's.
 *
 * Callers are role sessions only: those `issueRoleSession` hands a function for its execution role,
 * and those AssumeRole mints. Any other key is refused as AWS refuses an unknown one.
 */

export type { CloudTrailRecord } from './cloudtrail.js';
export type { StsSessionRecord } from './principals.js';

export interface LocalAwsOptions {
  readonly account: string;
  readonly region: string;
  /** DynamoDB Local's URL; item and table calls are forwarded there (it runs with -sharedDb). */
  readonly dynamodbEndpoint: string;
  /** The local Step Functions (lib/local/step-functions.ts `handleJson`). */
  readonly stepFunctions?: {
    handleJson(target: string, body: unknown): Promise<{ status: number; body: unknown }>;
  };
  /** S3 objects and KMS key material are persisted here; undefined keeps them in memory. */
  readonly dataDir?: string;
  /** @default () => new Date() */
  readonly now?: () => Date;
  /** Called for every call, synchronously after the answer is sent. */
  readonly onCloudTrail?: (record: CloudTrailRecord) => void;
  /** @default console.warn */
  readonly log?: (line: string) => void;
}

export interface LocalAws {
  /** `http://127.0.0.1:PORT`; valid after start(). */
  readonly url: string;
  start(port?: number): Promise<void>;
  stop(): Promise<void>;
  /** Create (or replace) a role with its trust policy and inline/managed policy documents. */
  createRole(
    arn: string,
    policies: { inline?: Record<string, object>; managed?: object[]; trust?: object },
  ): void;
  /** Registers a customer managed policy, usable as an AssumeRole `PolicyArns` session policy. */
  putManagedPolicy(arn: string, document: object): void;
  /** Credentials for a role as the Lambda service issues them for an execution role (records an AssumeRole by lambda.amazonaws.com). */
  issueRoleSession(
    roleArn: string,
    sessionName: string,
    durationSeconds?: number,
  ): { accessKeyId: string; secretAccessKey: string; sessionToken: string; expiration: Date };
  /** IAM evaluation for in-process callers (Step Functions invoking Lambda, EventBridge targets). */
  authorize(accessKeyId: string, action: string, resource: string): { allowed: boolean; reason: string };
  /** Every session issued, never a secret. */
  sessions(): StsSessionRecord[];
  /** The inline policies of a role (ARN or name) as stored (JSON text). */
  rolePolicies(roleArnOrName: string): Record<string, string>;
  /** Creates the secret or adds a new current version; returns the secret's ARN. */
  putSecret(nameOrArn: string, secretString: string): string;
  /** Creates an HMAC_256 key with this id unless it exists (a key of the template, as CloudFormation creates it). */
  ensureKey(keyId: string, description: string): void;
  /** A table created outside this endpoint, so that `dynamodb:LeadingKeys` knows its partition key. */
  registerTable(tableName: string, partitionKey: string): void;
  /** Creates an S3 bucket unless it exists (the local world's data, outside Countersign). */
  ensureBucket(name: string): void;
}

/** Lambda execution-role credentials last as long as a role session may (12 h) unless told otherwise. */
const DEFAULT_ROLE_SESSION_SECONDS = 43_200;
/** DynamoDB's item size is 400 KB and a BatchWriteItem 16 MB; S3 PutObject here is capped alike. */
const BODY_LIMIT_BYTES = 16 * 1024 * 1024;

export function createLocalAws(options: LocalAwsOptions): LocalAws {
  const now = options.now ?? (() => new Date());
  const log = options.log ?? ((line: string) => console.warn(line));
  const principals = new Principals();
  const managedPolicies = new Map<string, ParsedPolicy>();
  const env: ServiceEnvironment = {
    account: options.account,
    region: options.region,
    principals,
    log,
    ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}),
  };
  const partitionKeys = new Map<string, string>();
  const secrets = createSecretsManagerService(env);
  const kms = createKmsService(env);
  const s3 = createS3Service(env);
  const services = new Map<string, AwsService>();
  for (const service of [
    createStsService(env, managedPolicies),
    createIamService(env),
    createDynamoDbService(env, { endpoint: options.dynamodbEndpoint, partitionKeys }),
    createStatesService(env, options.stepFunctions),
    secrets,
    kms,
    s3,
  ]) {
    services.set(service.signingName, service);
  }

  let server: Server | undefined;
  let url = '';

  function emit(record: CloudTrailRecord): void {
    if (!options.onCloudTrail) return;
    try {
      options.onCloudTrail(record);
    } catch (error) {
      log(`local aws: onCloudTrail threw ${(error as Error).name}: ${(error as Error).message}`);
    }
  }

  /** IAM's decision; any part of a policy it could not evaluate (and so failed closed on) is logged. */
  function authorize(principal: Principal, action: string, resource: string, context: RequestContext) {
    const decision = principals.authorize(principal, action, resource, context);
    for (const problem of decision.problems) {
      log(
        `local aws: IAM EVALUATION FAILED CLOSED for ${principal.arn} ${action} on ${resource}: ${problem}`,
      );
    }
    return decision;
  }

  function merged(
    base: ReadonlyMap<string, readonly string[]>,
    extra?: ReadonlyMap<string, readonly string[]>,
  ) {
    if (!extra || extra.size === 0) return base;
    const out = new Map(base);
    for (const [k, v] of extra) out.set(k.toLowerCase(), v);
    return out;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const time = now();
    let body: Buffer;
    try {
      body = await readBody(req, BODY_LIMIT_BYTES);
    } catch (error) {
      const status = error instanceof BodyTooLargeError ? 413 : 400;
      const message = error instanceof BodyTooLargeError ? error.message : 'could not read the request';
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(message);
      // Refused before it could be understood; still a call, so still recorded.
      const scope = parseAuthorization(req.headers.authorization);
      const signingName = scope?.service ?? guessService(req, Buffer.alloc(0));
      emit(
        cloudTrailRecord({
          identity: { type: 'Unknown', ...(scope ? { accessKeyId: scope.accessKeyId } : {}) },
          time,
          eventSource: services.get(signingName)?.eventSource ?? `${signingName}.amazonaws.com`,
          eventName: unparsedEventName(req),
          region: scope?.region ?? options.region,
          sourceIp: sourceIpOf(req),
          userAgent: String(req.headers['user-agent'] ?? ''),
          requestId,
          account: options.account,
          requestParameters: null,
          responseElements: null,
          readOnly: false,
          managementEvent: true,
          errorCode: status === 413 ? 'RequestEntityTooLarge' : 'InvalidRequest',
          errorMessage: message,
        }),
      );
      return;
    }
    const scope = parseAuthorization(req.headers.authorization);
    const signingName = scope?.service ?? guessService(req, body);
    const service = services.get(signingName);
    const protocol = protocolOf(service, req);
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const request: AwsRequest = {
      method: req.method ?? 'GET',
      path: q === -1 ? rawUrl : rawUrl.slice(0, q),
      query: new URLSearchParams(q === -1 ? '' : rawUrl.slice(q + 1)),
      headers: req.headers,
      body,
      region: scope?.region ?? options.region,
    };
    let eventName = 'Unknown';
    try {
      eventName = service ? service.operationName(request) : unparsedEventName(req);
    } catch {
      // keep 'Unknown'
    }
    let identity: CloudTrailUserIdentity = { type: 'Unknown' };
    let call: ParsedCall | undefined;
    let answer: ServiceAnswer;
    const errorOptions = service?.errorOptions ?? {};
    try {
      const authn = authenticate(principals, req, body, protocol, time);
      if (authn.principal) identity = identityOf(authn.principal);
      else if (authn.accessKeyId) identity = { type: 'Unknown', accessKeyId: authn.accessKeyId };
      if (authn.error) throw authn.error;
      const principal = authn.principal as Principal;
      if (!service) {
        throw new AwsError(
          protocol === 'query' ? 'InvalidAction' : 'UnknownOperationException',
          400,
          `The service '${signingName}' is not emulated by the local AWS; the call was refused.`,
        );
      }
      const ctx: CallContext = {
        caller: principal,
        now: time,
        requestId,
        context: principals.contextOf(principal, time, request.region),
      };
      call = service.parse(request, ctx);
      eventName = call.operation;
      for (const needed of call.authorizations) {
        const decision = authorize(
          principal,
          needed.action,
          needed.resource,
          merged(ctx.context, needed.context),
        );
        if (!decision.allowed) throw commonError(protocol, 'AccessDenied', decision.reason);
      }
      answer = await service.serve(call, ctx);
    } catch (error) {
      if (error instanceof AwsError) {
        answer = errorAnswer(protocol, error, requestId, errorOptions);
      } else {
        log(
          `local aws: internal error serving ${signingName} ${eventName}: ${(error as Error).name}: ${(error as Error).message}`,
        );
        answer = errorAnswer(
          protocol,
          new AwsError(protocol === 'json' ? 'InternalFailure' : 'InternalError', 500, 'internal error'),
          requestId,
          errorOptions,
        );
      }
    }
    const headers: Record<string, string | number> = { ...(answer.headers ?? {}) };
    const payload = typeof answer.body === 'string' ? Buffer.from(answer.body) : answer.body;
    if (headers['content-length'] === undefined) headers['content-length'] = payload.length;
    res.writeHead(answer.status, headers);
    res.end(request.method === 'HEAD' ? undefined : payload);

    emit(
      cloudTrailRecord({
        identity,
        time,
        eventSource: service?.eventSource ?? `${signingName}.amazonaws.com`,
        eventName,
        region: service?.globalRegion ?? request.region,
        sourceIp: sourceIpOf(req),
        userAgent: String(req.headers['user-agent'] ?? req.headers['x-amz-user-agent'] ?? ''),
        requestId,
        account: options.account,
        requestParameters: call?.requestParameters ?? null,
        responseElements: answer.responseElements ?? null,
        readOnly: call?.readOnly ?? isReadOnlyOperation(eventName),
        managementEvent: call?.managementEvent ?? true,
        ...(call?.resources ? { resources: call.resources } : {}),
        ...(answer.errorCode !== undefined
          ? { errorCode: answer.errorCode, errorMessage: answer.errorMessage ?? '' }
          : {}),
      }),
    );
  }

  function findRole(roleArnOrName: string) {
    if (roleArnOrName.startsWith('arn:')) return principals.roleByArn(roleArnOrName);
    return principals.role(options.account, roleArnOrName);
  }

  return {
    get url() {
      return url;
    },
    async start(port = 0) {
      if (server) throw new Error('local aws: already started');
      const s = createServer((req, res) => {
        handle(req, res).catch((error: unknown) => {
          log(`local aws: unhandled ${(error as Error).name}`);
          if (!res.headersSent) res.writeHead(500);
          res.end();
        });
      });
      s.keepAliveTimeout = 60_000;
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        // Loopback only: the endpoint holds every local credential's power.
        s.listen(port, '127.0.0.1', () => resolve());
      });
      server = s;
      url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    },
    async stop() {
      const s = server;
      server = undefined;
      if (!s) return;
      await new Promise<void>((resolve) => {
        s.close(() => resolve());
        s.closeAllConnections();
      });
    },
    createRole(arn, policies) {
      principals.createRole(arn, policies);
    },
    putManagedPolicy(arn, document) {
      if (!/^arn:aws:iam::(\d{12}|aws):policy\/[\x21-\x7e]+$/.test(arn))
        throw new Error(`putManagedPolicy: not a policy ARN: ${arn}`);
      managedPolicies.set(arn, parsePolicy(`managed:${arn}`, document));
    },
    issueRoleSession(roleArn, sessionName, durationSeconds = DEFAULT_ROLE_SESSION_SECONDS) {
      const role = principals.roleByArn(roleArn);
      if (!role) throw new Error(`issueRoleSession: no role ${roleArn} (createRole it first)`);
      if (!/^[\w+=,.@-]{2,64}$/.test(sessionName))
        throw new Error(`issueRoleSession: invalid session name ${sessionName}`);
      const time = now();
      const session = principals.mint(role, sessionName, durationSeconds, time, { assumed: false });
      emit(
        cloudTrailRecord({
          identity: { type: 'AWSService', invokedBy: 'lambda.amazonaws.com' },
          time,
          eventSource: 'sts.amazonaws.com',
          eventName: 'AssumeRole',
          region: options.region,
          sourceIp: 'lambda.amazonaws.com',
          userAgent: 'lambda.amazonaws.com',
          requestId: randomUUID(),
          account: role.account,
          requestParameters: { roleArn, roleSessionName: sessionName, durationSeconds },
          responseElements: assumeRoleResponseElements(session),
          readOnly: true,
          managementEvent: true,
          resources: [{ type: 'AWS::IAM::Role', ARN: roleArn }],
        }),
      );
      return {
        accessKeyId: session.accessKeyId,
        secretAccessKey: session.secretAccessKey,
        sessionToken: session.sessionToken,
        expiration: session.expiresAt,
      };
    },
    authorize(accessKeyId, action, resource) {
      const principal = principals.byAccessKey(accessKeyId);
      if (!principal)
        return { allowed: false, reason: 'The security token included in the request is invalid.' };
      const time = now();
      if (time.getTime() >= principal.expiresAt.getTime()) {
        return { allowed: false, reason: 'The security token included in the request is expired' };
      }
      const decision = authorize(
        principal,
        action,
        resource,
        principals.contextOf(principal, time, options.region),
      );
      return { allowed: decision.allowed, reason: decision.reason };
    },
    sessions: () => principals.sessions(),
    rolePolicies(roleArnOrName) {
      return Object.fromEntries(findRole(roleArnOrName)?.inline ?? []);
    },
    putSecret(nameOrArn, secretString) {
      return secrets.put(nameOrArn, secretString, now());
    },
    ensureKey(keyId, description) {
      kms.ensureKey(keyId, description);
    },
    registerTable(tableName, partitionKey) {
      partitionKeys.set(tableName, partitionKey);
    },
    ensureBucket(name) {
      s3.ensureBucket(name);
    },
  };
}
