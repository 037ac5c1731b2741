import type { Session } from '../auth.js';
import type { ConsoleConfig, Role } from '../config.js';
import { Time } from '../ui.js';

const ROLE_TEXT: Record<Role, string> = {
  agent: 'Agent: you may request access, and you see only your own requests.',
  approver: 'Approver: you decide the requests whose rule names you or one of your groups.',
  auditor: 'Auditor: you read every request’s evidence record, the history and the access review.',
};

export function MePage({
  session,
  roles,
  config,
}: {
  session: Session;
  roles: Role[];
  config: ConsoleConfig;
}) {
  const groupsOf = (role: Role) => config.roles[`${role}s` as keyof ConsoleConfig['roles']];
  return (
    <section aria-labelledby="me-title">
      <h1 id="me-title">Me</h1>
      <dl class="facts">
        <dt>Identity</dt>
        <dd>
          <code>{session.sub}</code>
        </dd>
        <dt>Issuer</dt>
        <dd>
          <code>{String(session.claims.iss ?? '')}</code>
        </dd>
        <dt>Groups in your token</dt>
        <dd>{session.groups.length > 0 ? session.groups.join(', ') : <span class="muted">none</span>}</dd>
        <dt>Signed in until</dt>
        <dd>
          <Time iso={new Date(session.expiresAt).toISOString()} />
        </dd>
      </dl>
      <h2>Your roles</h2>
      {roles.length === 0 ? (
        <p>None of your groups is a Countersign role: the API will refuse you.</p>
      ) : (
        <ul>
          {roles.map((r) => (
            <li key={r}>
              {ROLE_TEXT[r]} <span class="muted">(groups {groupsOf(r).join(', ')})</span>
            </li>
          ))}
        </ul>
      )}
      <p class="muted">
        The token stays in this page’s memory only; reloading the page or signing out forgets it.
      </p>
    </section>
  );
}
