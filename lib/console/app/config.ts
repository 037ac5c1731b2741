/** What `config.json` beside the console says (written by the front door locally, by CDK on AWS). */
export interface ConsoleConfig {
  /** Where the API is; '' means this origin (the front door, or CloudFront routing /v1/* to the API). */
  apiUrl: string;
  issuer: string;
  clientId: string;
  scope: string;
  authorizationEndpoint?: string;
  tokenEndpoint?: string;
  groupsClaim: string;
  roles: { agents: string[]; approvers: string[]; auditors: string[] };
}

export async function loadConfig(): Promise<ConsoleConfig> {
  const response = await fetch('config.json', { cache: 'no-store' });
  if (!response.ok) throw new Error('The console’s configuration (config.json) could not be read.');
  const raw = (await response.json()) as Partial<ConsoleConfig>;
  if (typeof raw.issuer !== 'string' || typeof raw.clientId !== 'string' || !raw.roles) {
    throw new Error('The console’s configuration (config.json) is incomplete.');
  }
  return {
    apiUrl: typeof raw.apiUrl === 'string' ? raw.apiUrl.replace(/\/+$/, '') : '',
    issuer: raw.issuer,
    clientId: raw.clientId,
    scope: raw.scope ?? 'openid',
    ...(raw.authorizationEndpoint ? { authorizationEndpoint: raw.authorizationEndpoint } : {}),
    ...(raw.tokenEndpoint ? { tokenEndpoint: raw.tokenEndpoint } : {}),
    groupsClaim: raw.groupsClaim ?? 'groups',
    roles: raw.roles,
  };
}

export type Role = 'agent' | 'approver' | 'auditor';

export function rolesOf(groups: readonly string[], config: ConsoleConfig): Role[] {
  const has = (names: string[]) => names.some((n) => groups.includes(n));
  const roles: Role[] = [];
  if (has(config.roles.agents)) roles.push('agent');
  if (has(config.roles.approvers)) roles.push('approver');
  if (has(config.roles.auditors)) roles.push('auditor');
  return roles;
}
