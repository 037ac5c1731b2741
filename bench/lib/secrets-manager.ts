import { type LocalServer, listenLocal, readBody, sendJson } from '../../lib/local/http-server.js';

/**
 * A Secrets Manager endpoint that answers GetSecretValue (JSON 1.1, `X-Amz-Target:
 * secretsmanager.GetSecretValue`) with one secret, for the bundled handlers that read the Slack
 * secret at cold start. The local stack hands handlers their secrets directly, so it has none.
 */
export async function startSecretsManager(secretArn: string, secret: object): Promise<LocalServer> {
  return listenLocal(async (req, res) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    const body = JSON.parse((await readBody(req, 64 * 1024)).toString('utf8') || '{}') as {
      SecretId?: string;
    };
    if (target !== 'secretsmanager.GetSecretValue') {
      return sendJson(res, 400, { __type: 'UnknownOperationException', message: target });
    }
    if (body.SecretId !== secretArn) {
      return sendJson(res, 400, { __type: 'ResourceNotFoundException', message: 'no such secret' });
    }
    return sendJson(res, 200, {
      ARN: secretArn,
      Name: secretArn.split(':').pop(),
      SecretString: JSON.stringify(secret),
      VersionId: '00000000-0000-0000-0000-000000000001',
      VersionStages: ['AWSCURRENT'],
      CreatedDate: Date.now() / 1000,
    });
  });
}
