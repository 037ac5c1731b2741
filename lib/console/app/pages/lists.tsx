import { useState } from 'preact/hooks';
import { getJson, query } from '../api.js';
import type { Page, RequestObject } from '../types.js';
import {
  Countdown,
  ErrorBox,
  Loading,
  Pager,
  requestHref,
  StatusBadge,
  Time,
  Untrusted,
  useLoad,
  usePages,
} from '../ui.js';

/** Where a pending request times out: shown to approvers + the rule's approval timeout. */
export function timeoutAt(request: RequestObject): number | undefined {
  const seconds = request.policy.approvalTimeoutSeconds;
  if (request.status !== 'PENDING' || !seconds) return undefined;
  return new Date(request.shownAt ?? request.createdAt).getTime() + seconds * 1000;
}

export function quorumText(request: RequestObject): string {
  const approvals = request.decisions.filter((d) => d.decision === 'approve').length;
  return `${approvals} of ${request.policy.quorum ?? 1} approval${(request.policy.quorum ?? 1) === 1 ? '' : 's'}`;
}

export function OpenById() {
  const [id, setId] = useState('');
  return (
    <form
      class="inline"
      onSubmit={(e) => {
        e.preventDefault();
        if (id.trim()) window.location.hash = requestHref(id.trim());
      }}
    >
      <label for="open-id">Open a request by id</label>
      <input id="open-id" value={id} onInput={(e) => setId(e.currentTarget.value)} placeholder="req_…" />
      <button type="submit">Open</button>
    </form>
  );
}

/**
 * `GET /v1/requests` (DESIGN.md §4): the caller's view — an approver's inbox with `status=PENDING`,
 * an agent's own requests without it. Paged with `cursor`.
 */
export function RequestList({ title, status, intro }: { title: string; status?: string; intro: string }) {
  const pages = usePages();
  const { cursor } = pages;
  const [load, reload] = useLoad(
    () => getJson<Page<RequestObject>>(`/v1/requests${query({ status, limit: '25', cursor })}`),
    `${status}|${cursor}`,
  );
  return (
    <section aria-labelledby="list-title">
      <h1 id="list-title">{title}</h1>
      <p class="muted">{intro}</p>
      <div class="toolbar">
        <button type="button" onClick={reload}>
          Refresh
        </button>
        <OpenById />
      </div>
      {load.state === 'loading' && <Loading what={title.toLowerCase()} />}
      {load.state === 'error' && <ErrorBox error={load.error} />}
      {load.state === 'ok' && load.value.items.length === 0 && <p class="empty">Nothing here right now.</p>}
      {load.state === 'ok' && load.value.items.length > 0 && (
        <ul class="cards">
          {load.value.items.map((r) => {
            const until = timeoutAt(r);
            const onBehalfOf = r.context?.onBehalfOf;
            return (
              <li key={r.id} class="card">
                <div class="card-head">
                  <a href={requestHref(r.id)}>
                    <code>{r.id}</code>
                  </a>
                  <StatusBadge status={r.status} />
                  {until !== undefined && <Countdown until={until} />}
                </div>
                <dl class="facts">
                  <dt>Agent</dt>
                  <dd>
                    <Untrusted text={r.requester.sub} />
                    {typeof onBehalfOf === 'string' && (
                      <>
                        {' '}
                        on behalf of <Untrusted text={onBehalfOf} />
                      </>
                    )}
                  </dd>
                  <dt>Actions</dt>
                  <dd>
                    <code>{r.actions.join(', ')}</code>
                  </dd>
                  <dt>Resource</dt>
                  <dd>
                    <code class="wrap">{r.resource}</code>
                  </dd>
                  <dt>Reason</dt>
                  <dd>
                    <Untrusted text={r.reason} />
                  </dd>
                  <dt>Quorum</dt>
                  <dd>{quorumText(r)}</dd>
                  <dt>Created</dt>
                  <dd>
                    <Time iso={r.createdAt} />
                  </dd>
                </dl>
              </li>
            );
          })}
        </ul>
      )}
      {load.state === 'ok' && <Pager pages={pages} nextCursor={load.value.nextCursor} />}
    </section>
  );
}
