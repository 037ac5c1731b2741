import { randomBytes, randomUUID } from 'node:crypto';
import {
  AwsError,
  type AwsService,
  jsonAnswer,
  jsonBody,
  jsonProtocol,
  type ParsedCall,
  type ServiceEnvironment,
  stringField,
  targetOperation,
  unknownOperation,
} from './service.js';

/**
 * Secrets Manager (JSON 1.1, `secretsmanager.*`): CreateSecret, GetSecretValue, PutSecretValue,
 * DescribeSecret. A secret's ARN ends in `-` and six random characters, as on AWS; a SecretId may be
 * the name, the full ARN or the ARN without that suffix. Values stay in memory and never reach
 * CloudTrail.
 */

const PREFIX = 'secretsmanager';
const NAME = /^[\w/+=.@-]{1,512}$/;
const SUFFIX_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

interface SecretVersion {
  readonly id: string;
  readonly value: string;
  readonly created: Date;
  stages: string[];
}

interface Secret {
  readonly name: string;
  readonly arn: string;
  readonly created: Date;
  changed: Date;
  readonly versions: SecretVersion[];
  readonly description?: string;
}

export interface SecretsStore {
  /** Creates the secret or adds a version; returns its ARN. */
  put(nameOrArn: string, value: string, now: Date): string;
}

export function createSecretsManagerService(env: ServiceEnvironment): AwsService & SecretsStore {
  const secrets = new Map<string, Secret>(); // by name

  const arnPrefix = (region: string) => `arn:aws:secretsmanager:${region}:${env.account}:secret:`;
  const suffix = () => [...randomBytes(6)].map((b) => SUFFIX_CHARS[b % SUFFIX_CHARS.length]).join('');

  function find(secretId: string, region: string): Secret | undefined {
    if (!secretId.startsWith('arn:')) return secrets.get(secretId);
    const prefix = arnPrefix(region);
    if (!secretId.startsWith(prefix)) return undefined;
    const rest = secretId.slice(prefix.length);
    for (const secret of secrets.values()) {
      if (secret.arn === secretId || secret.name === rest) return secret;
    }
    return undefined;
  }

  function create(
    name: string,
    value: string | undefined,
    now: Date,
    region: string,
    description?: string,
  ): Secret {
    const secret: Secret = {
      name,
      arn: `${arnPrefix(region)}${name}-${suffix()}`,
      created: now,
      changed: now,
      versions: [],
      ...(description !== undefined ? { description } : {}),
    };
    if (value !== undefined) addVersion(secret, value, now);
    secrets.set(name, secret);
    return secret;
  }

  function addVersion(secret: Secret, value: string, now: Date, id: string = randomUUID()): SecretVersion {
    for (const v of secret.versions) {
      v.stages = v.stages
        .filter((s) => s !== 'AWSPREVIOUS')
        .map((s) => (s === 'AWSCURRENT' ? 'AWSPREVIOUS' : s));
    }
    const version: SecretVersion = { id, value, created: now, stages: ['AWSCURRENT'] };
    secret.versions.push(version);
    secret.changed = now;
    return version;
  }

  const epoch = (d: Date) => d.getTime() / 1000;
  const notFound = () =>
    new AwsError('ResourceNotFoundException', 400, "Secrets Manager can't find the specified secret.");

  const service: AwsService & SecretsStore = {
    ...jsonProtocol('secretsmanager', PREFIX, '1.1'),
    parse(request): ParsedCall {
      const operation = targetOperation(request, PREFIX);
      const body = jsonBody(request);
      let resource: string;
      let secret: Secret | undefined;
      if (operation === 'CreateSecret') {
        const name = stringField(body, 'Name') as string;
        if (!NAME.test(name))
          throw new AwsError(
            'ValidationException',
            400,
            'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!',
          );
        if (secrets.has(name))
          throw new AwsError(
            'ResourceExistsException',
            400,
            `The operation failed because the secret ${name} already exists.`,
          );
        // Authorized on the ARN the secret will have (its suffix is not known yet): a `name-??????` pattern matches it.
        resource = `${arnPrefix(request.region)}${name}-XXXXXX`;
      } else if (['GetSecretValue', 'PutSecretValue', 'DescribeSecret'].includes(operation)) {
        const secretId = stringField(body, 'SecretId') as string;
        secret = find(secretId, request.region);
        resource =
          secret?.arn ?? (secretId.startsWith('arn:') ? secretId : `${arnPrefix(request.region)}${secretId}`);
      } else {
        throw unknownOperation(operation);
      }
      const params: Record<string, unknown> = {};
      if (typeof body.SecretId === 'string') params.secretId = body.SecretId;
      if (typeof body.Name === 'string') params.name = body.Name;
      if (typeof body.VersionStage === 'string') params.versionStage = body.VersionStage;
      if (typeof body.VersionId === 'string') params.versionId = body.VersionId;
      return {
        operation,
        authorizations: [{ action: `secretsmanager:${operation}`, resource }],
        requestParameters: params,
        readOnly: operation === 'GetSecretValue' || operation === 'DescribeSecret',
        managementEvent: true,
        input: { body, secret, region: request.region },
      };
    },
    async serve(call, ctx) {
      const { body, secret, region } = call.input as {
        body: Record<string, unknown>;
        secret?: Secret;
        region: string;
      };
      const now = ctx.now;
      switch (call.operation) {
        case 'CreateSecret': {
          const name = body.Name as string;
          if (secrets.has(name))
            throw new AwsError(
              'ResourceExistsException',
              400,
              `The operation failed because the secret ${name} already exists.`,
            );
          const value = stringField(body, 'SecretString', false);
          const description = stringField(body, 'Description', false);
          const created = create(name, value, now, region, description);
          const out = {
            ARN: created.arn,
            Name: created.name,
            ...(created.versions[0] ? { VersionId: created.versions[0].id } : {}),
          };
          return jsonAnswer(out, '1.1', ctx.requestId, { arn: created.arn });
        }
        case 'PutSecretValue': {
          if (!secret) throw notFound();
          const value = stringField(body, 'SecretString') as string;
          const version = addVersion(
            secret,
            value,
            now,
            typeof body.ClientRequestToken === 'string' ? body.ClientRequestToken : undefined,
          );
          return jsonAnswer(
            { ARN: secret.arn, Name: secret.name, VersionId: version.id, VersionStages: version.stages },
            '1.1',
            ctx.requestId,
            {
              arn: secret.arn,
              versionId: version.id,
            },
          );
        }
        case 'GetSecretValue': {
          if (!secret) throw notFound();
          const stage = typeof body.VersionStage === 'string' ? body.VersionStage : undefined;
          const id = typeof body.VersionId === 'string' ? body.VersionId : undefined;
          const version = secret.versions.find((v) =>
            id ? v.id === id : v.stages.includes(stage ?? 'AWSCURRENT'),
          );
          if (!version)
            throw new AwsError(
              'ResourceNotFoundException',
              400,
              "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT",
            );
          return jsonAnswer(
            {
              ARN: secret.arn,
              Name: secret.name,
              VersionId: version.id,
              SecretString: version.value,
              VersionStages: version.stages,
              CreatedDate: epoch(version.created),
            },
            '1.1',
            ctx.requestId,
          );
        }
        default: {
          if (!secret) throw notFound();
          return jsonAnswer(
            {
              ARN: secret.arn,
              Name: secret.name,
              ...(secret.description !== undefined ? { Description: secret.description } : {}),
              CreatedDate: epoch(secret.created),
              LastChangedDate: epoch(secret.changed),
              VersionIdsToStages: Object.fromEntries(
                secret.versions.filter((v) => v.stages.length > 0).map((v) => [v.id, v.stages]),
              ),
            },
            '1.1',
            ctx.requestId,
          );
        }
      }
    },
    put(nameOrArn, value, now) {
      const existing = find(nameOrArn, env.region);
      if (existing) {
        addVersion(existing, value, now);
        return existing.arn;
      }
      if (nameOrArn.startsWith('arn:')) {
        const match = /^arn:aws:secretsmanager:[a-z0-9-]+:\d{12}:secret:(.+)-[A-Za-z0-9]{6}$/.exec(nameOrArn);
        if (!match) throw new Error(`putSecret: not a secret ARN: ${nameOrArn}`);
        const secret: Secret = {
          name: match[1] as string,
          arn: nameOrArn,
          created: now,
          changed: now,
          versions: [],
        };
        addVersion(secret, value, now);
        secrets.set(secret.name, secret);
        return secret.arn;
      }
      if (!NAME.test(nameOrArn)) throw new Error(`putSecret: not a secret name: ${nameOrArn}`);
      return create(nameOrArn, value, now, env.region).arn;
    },
  };
  return service;
}
