import { buildAuthenticator, buildClaims } from '../adapters/compose.js';
import { authenticatedApi, json, pathId, type RouteDeps } from '../adapters/http.js';
import { lazyHandler } from '../adapters/lambda.js';
import { createLogger } from '../adapters/logger.js';
import type { CredentialClaims } from '../core/credentials.js';

interface ClaimCredentialsDeps extends RouteDeps {
  claims: CredentialClaims;
}

/** `POST /v1/requests/{id}/credentials`: mint a session for the approved grant (credential_process shape). */
const createClaimCredentialsHandler = (deps: ClaimCredentialsDeps) =>
  authenticatedApi(deps, async (caller, event) => {
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

export const handler = lazyHandler((settings) =>
  createClaimCredentialsHandler({
    claims: buildClaims(settings),
    authenticator: buildAuthenticator(settings),
    logger: createLogger({ fn: 'claim-credentials' }),
  }),
);
