import { useState } from 'preact/hooks';
import { getCsv, getJson, query } from '../api.js';
import type { AgentReview, EvidenceSummary, Page } from '../types.js';
import {
  ErrorBox,
  Loading,
  Pager,
  requestHref,
  ScrollTable,
  StatusBadge,
  Time,
  Untrusted,
  useLoad,
  usePages,
} from '../ui.js';

const STATUSES = ['', 'PENDING', 'APPROVED', 'DENIED', 'TIMED_OUT', 'EXPIRED', 'REVOKED', 'EXECUTED'];

/** `<input type="datetime-local">` is in the viewer's zone; the API wants ISO-8601 instants. */
const toIso = (local: string) => (local ? new Date(local).toISOString() : undefined);

/** `GET /v1/reports/requests` with its filters, paged; the record survives expiry. */
export function HistoryPage() {
  const [filters, setFilters] = useState({ agent: '', status: '', from: '', to: '' });
  const [applied, setApplied] = useState(filters);
  const pages = usePages();
  const { cursor } = pages;
  const q = query({
    agent: applied.agent.trim() || undefined,
    status: applied.status || undefined,
    from: toIso(applied.from),
    to: toIso(applied.to),
    limit: '25',
    cursor,
  });
  const [load] = useLoad(() => getJson<Page<EvidenceSummary>>(`/v1/reports/requests${q}`), q);
  const field = (name: keyof typeof filters) => (e: Event) =>
    setFilters({ ...filters, [name]: (e.currentTarget as HTMLInputElement).value });
  return (
    <section aria-labelledby="history-title">
      <h1 id="history-title">History</h1>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(filters);
          pages.reset();
        }}
      >
        <label>
          Agent <input name="agent" value={filters.agent} onInput={field('agent')} placeholder="deploy-bot" />
        </label>
        <label>
          Status{' '}
          <select name="status" value={filters.status} onChange={field('status')}>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s || 'any'}
              </option>
            ))}
          </select>
        </label>
        <label>
          From <input type="datetime-local" name="from" value={filters.from} onInput={field('from')} />
        </label>
        <label>
          To <input type="datetime-local" name="to" value={filters.to} onInput={field('to')} />
        </label>
        <button type="submit">Filter</button>
      </form>
      {load.state === 'loading' && <Loading what="history" />}
      {load.state === 'error' && <ErrorBox error={load.error} />}
      {load.state === 'ok' && load.value.items.length === 0 && <p class="empty">No requests match.</p>}
      {load.state === 'ok' && load.value.items.length > 0 && (
        <ScrollTable
          class="history"
          caption="Requests, newest first"
          columns={['Request', 'Status', 'Agent', 'Actions', 'Resource', 'Created', 'Findings']}
        >
          {load.value.items.map(({ request: r, findings }) => (
            <tr key={r.id}>
              <td>
                <a href={requestHref(r.id)}>
                  <code>{r.id}</code>
                </a>
              </td>
              <td>
                <StatusBadge status={r.status} />
              </td>
              <td>
                <Untrusted text={r.requester.sub} />
              </td>
              <td>
                <code>{r.actions.join(', ')}</code>
              </td>
              <td>
                <code class="wrap">{r.resource}</code>
              </td>
              <td>
                <Time iso={r.createdAt} />
              </td>
              <td>{findings.map((f) => f.type).join(', ') || '—'}</td>
            </tr>
          ))}
        </ScrollTable>
      )}
      {load.state === 'ok' && <Pager pages={pages} nextCursor={load.value.nextCursor} />}
    </section>
  );
}

/** `GET /v1/reports/access-review` as a table, and the same as CSV (`Accept: text/csv`). */
export function AccessReviewPage() {
  const [range, setRange] = useState({ from: '', to: '' });
  const [applied, setApplied] = useState(range);
  const [csvError, setCsvError] = useState<unknown>(undefined);
  const q = query({ from: toIso(applied.from), to: toIso(applied.to) });
  const [load] = useLoad(
    () => getJson<{ from: string; to: string; agents: AgentReview[] }>(`/v1/reports/access-review${q}`),
    q,
  );
  const download = async () => {
    setCsvError(undefined);
    try {
      const { text, filename } = await getCsv(`/v1/reports/access-review${q}`);
      // A Blob URL, not a data: URL with the token-fetched text in it; revoked right after the click.
      const url = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = filename;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (e) {
      setCsvError(e);
    }
  };
  return (
    <section aria-labelledby="review-title">
      <h1 id="review-title">Access review</h1>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(range);
        }}
      >
        <label>
          From{' '}
          <input
            type="datetime-local"
            value={range.from}
            onInput={(e) => setRange({ ...range, from: e.currentTarget.value })}
          />
        </label>
        <label>
          To{' '}
          <input
            type="datetime-local"
            value={range.to}
            onInput={(e) => setRange({ ...range, to: e.currentTarget.value })}
          />
        </label>
        <button type="submit">Show</button>
        <button type="button" onClick={download}>
          Download CSV
        </button>
      </form>
      {csvError !== undefined && <ErrorBox error={csvError} />}
      {load.state === 'loading' && <Loading what="the access review" />}
      {load.state === 'error' && <ErrorBox error={load.error} />}
      {load.state === 'ok' && (
        <>
          <p class="muted">
            From <Time iso={load.value.from} /> to <Time iso={load.value.to} />
          </p>
          {load.value.agents.length === 0 ? (
            <p class="empty">No requests in this period.</p>
          ) : (
            <ScrollTable
              class="review"
              caption="Per agent"
              columns={[
                'Agent',
                'Requests',
                'Approved',
                'Denied',
                'Timed out',
                'Median decision',
                'Rubber stamps',
                'Unused grants',
                'Resources touched',
              ]}
            >
              {load.value.agents.map((a) => (
                <tr key={a.agent}>
                  <td>
                    <a href={`#/history?agent=${encodeURIComponent(a.agent)}`}>
                      <Untrusted text={a.agent} />
                    </a>
                  </td>
                  <td>{a.requests}</td>
                  <td>{a.approved}</td>
                  <td>{a.denied}</td>
                  <td>{a.timedOut}</td>
                  <td>{a.medianDecisionSeconds === null ? '—' : `${a.medianDecisionSeconds} s`}</td>
                  <td>{a.rubberStamps}</td>
                  <td>{a.unusedGrants}</td>
                  <td>
                    {a.resourcesTouched.map((r) => (
                      <code key={r} class="wrap block">
                        {r}
                      </code>
                    ))}
                  </td>
                </tr>
              ))}
            </ScrollTable>
          )}
        </>
      )}
    </section>
  );
}
