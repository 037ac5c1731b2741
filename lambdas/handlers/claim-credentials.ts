import { buildAuthenticator, buildClaims } from '../adapters/compose.js';
import { apiHandler, header, json, pathId } from '../adapters/http.js';
import type { JwtAuthenticator } from '../adapters/jwt-authenticator.js';
import { lazyHandler } from '../adapters/lambda.js';
import { createLogger, type Logger } from '../adapters/logger.js';
import { settingsFromEnvironment } from '../adapters/settings.js';
import type { CredentialClaims } from '../core/credentials.js';

export interface ClaimCredentialsDeps {
  claims: CredentialClaims;
  authenticator: JwtAuthenticator;
  logger: Logger;
}

/** `POST /v1/requests/{id}/credentials`: mint a session for the approved grant (credential_process shape). */
export const createClaimCredentialsHandler = (deps: ClaimCredentialsDeps) =>
  apiHandler(deps.logger, async (event) => {
    const caller = await deps.authenticator.authenticate(header(event, 'authorization'));
    const id = pathId(event);
    const credentials = await deps.claims.claim(caller, id);
    // The access key id is public (it appears in CloudTrail); the secret and token are never logged.
    deps.logger.info('session minted', {
      requestId: id,
      accessKeyId: credentials.AccessKeyId,
      agent: caller.sub,
    });
    return json(200, credentials);
  });

export const handler = lazyHandler(() => {
  const settings = settingsFromEnvironment();
  return createClaimCredentialsHandler({
    claims: buildClaims(settings),
    authenticator: buildAuthenticator(settings),
    logger: createLogger({ fn: 'claim-credentials' }),
  });
});
