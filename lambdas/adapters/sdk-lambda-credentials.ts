import { fromEnv } from '@aws-sdk/credential-provider-env';

/**
 * Stands in for `@aws-sdk/credential-provider-node` in the Lambda bundles (see lib/bundling.ts).
 *
 * Lambda hands every function its role's session in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 * AWS_SESSION_TOKEN, which is the first link of the SDK's default chain and the only one that ever
 * answers on Lambda. The rest of that chain (SSO, shared INI profiles, web identity, login, process,
 * container and instance metadata, with the nested STS/SSO/OIDC clients they bring) is about 95 KB
 * of every bundle that Lambda never runs. Without credentials in the environment this refuses,
 * as the default chain would after trying everything else.
 *
 * The SDK clients import only `defaultProvider` from the package this replaces.
 */
export const defaultProvider = (init: Parameters<typeof fromEnv>[0] = {}) => fromEnv(init);
