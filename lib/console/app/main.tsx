import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { setApiBase } from './api.js';
import { beginSignIn, completeSignIn, currentSession, type Session, signOut } from './auth.js';
import { type ConsoleConfig, loadConfig, type Role, rolesOf } from './config.js';
import { OpenById, RequestList } from './pages/lists.js';
import { MePage } from './pages/me.js';
import { AccessReviewPage, HistoryPage } from './pages/reports.js';
import { RequestPage } from './pages/request.js';
import { ErrorBox, Loading } from './ui.js';

/** Pages live in the hash (`#/inbox`, `#/requests/<id>`): the static host serves one document. */
function useHash(): string {
  const [hash, setHash] = useState(window.location.hash || '#/');
  useEffect(() => {
    const on = () => setHash(window.location.hash || '#/');
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function homeOf(roles: Role[]): string {
  if (roles.includes('approver')) return '#/inbox';
  if (roles.includes('agent')) return '#/mine';
  if (roles.includes('auditor')) return '#/history';
  return '#/me';
}

function Nav({ roles, hash }: { roles: Role[]; hash: string }) {
  const links: Array<[string, string]> = [];
  if (roles.includes('approver')) links.push(['#/inbox', 'Inbox']);
  if (roles.includes('agent')) links.push(['#/mine', 'My requests']);
  if (roles.includes('auditor')) links.push(['#/history', 'History'], ['#/review', 'Access review']);
  links.push(['#/me', 'Me']);
  return (
    <ul class="nav-links">
      {links.map(([href, text]) => (
        <li key={href}>
          <a href={href} aria-current={hash.startsWith(href) ? 'page' : undefined}>
            {text}
          </a>
        </li>
      ))}
    </ul>
  );
}

const KNOWN = /^\/(inbox|mine|history|review|me|requests\/[^/]+)$/;

function Route({
  hash,
  roles,
  session,
  config,
}: {
  hash: string;
  roles: Role[];
  session: Session;
  config: ConsoleConfig;
}) {
  const path = hash.slice(1).split('?')[0] ?? '/';
  const request = /^\/requests\/([^/]+)$/.exec(path);
  if (request) return <RequestPage id={decodeURIComponent(request[1]!)} roles={roles} sub={session.sub} />;
  switch (path) {
    case '/inbox':
      return roles.includes('approver') ? (
        <RequestList
          title="Inbox"
          status="PENDING"
          intro="Pending requests you may decide, newest first. Open one to read it in full before deciding."
        />
      ) : (
        <NotForYou what="The inbox is for approvers." />
      );
    case '/mine':
      return roles.includes('agent') ? (
        <RequestList title="My requests" intro="The requests you made, newest first." />
      ) : (
        <NotForYou what="This list is for agents." />
      );
    case '/history':
      return roles.includes('auditor') ? (
        <HistoryPage key={hash} />
      ) : (
        <NotForYou what="History is for auditors." />
      );
    case '/review':
      return roles.includes('auditor') ? (
        <AccessReviewPage />
      ) : (
        <NotForYou what="The access review is for auditors." />
      );
    case '/me':
      return <MePage session={session} roles={roles} config={config} />;
    default:
      return <Loading what="your start page" />;
  }
}

function NotForYou({ what }: { what: string }) {
  return (
    <section>
      <h1>Not available</h1>
      <p role="alert">{what} Your roles do not include it.</p>
      <OpenById />
    </section>
  );
}

function SignedOut({ config, problem }: { config: ConsoleConfig; problem?: string }) {
  const [error, setError] = useState<unknown>(undefined);
  return (
    <main id="main" class="signed-out">
      <h1>Countersign</h1>
      <p>Approvals for AI agents touching AWS. Sign in with your identity provider to continue.</p>
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      <button
        type="button"
        class="primary"
        onClick={() => beginSignIn(config, window.location.hash || '#/').catch((e: unknown) => setError(e))}
      >
        Sign in
      </button>
      {error !== undefined && <ErrorBox error={error} />}
    </main>
  );
}

function App({ config, problem }: { config: ConsoleConfig; problem?: string }) {
  const hash = useHash();
  const [, setTick] = useState(0);
  const session = currentSession();
  if (!session) return <SignedOut config={config} {...(problem ? { problem } : {})} />;
  const roles = rolesOf(session.groups, config);
  let page = hash;
  if (!KNOWN.test(hash.slice(1).split('?')[0] ?? '')) {
    // No page named (or an unknown one): the start page for these roles, without a history entry.
    page = homeOf(roles);
    window.history.replaceState(null, '', page);
  }
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <nav aria-label="Main">
          <span class="brand">Countersign</span>
          <Nav roles={roles} hash={page} />
        </nav>
        <div class="who">
          <span>{session.sub}</span>
          <button
            type="button"
            onClick={() => {
              signOut();
              window.location.hash = '#/';
              setTick((t) => t + 1);
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Route hash={page} roles={roles} session={session} config={config} />
      </main>
    </>
  );
}

async function start(root: HTMLElement) {
  render(<Loading what="Countersign" />, root);
  let config: ConsoleConfig;
  try {
    config = await loadConfig();
  } catch (e) {
    render(<ErrorBox error={e} />, root);
    return;
  }
  setApiBase(config.apiUrl);
  let problem: string | undefined;
  if (/\/callback\/?$/.test(window.location.pathname)) {
    try {
      const next = await completeSignIn(config);
      window.location.hash = next;
    } catch (e) {
      problem = e instanceof Error ? e.message : 'Sign-in failed.';
    }
  }
  render(<App config={config} {...(problem ? { problem } : {})} />, root);
}

const root = document.getElementById('app');
if (root) void start(root);
