import { useEffect, useState } from 'preact/hooks';
import { ApiError, getJson, postJson } from '../api.js';
import type { Role } from '../config.js';
import type { ActivityEvent, Decision, EvidenceRecord, Finding, Integrity, RequestObject } from '../types.js';
import {
  Countdown,
  duration,
  ErrorBox,
  Loading,
  ScrollTable,
  StatusBadge,
  Time,
  Untrusted,
  useLoad,
} from '../ui.js';
import { quorumText, timeoutAt } from './lists.js';

interface Loaded {
  request: RequestObject;
  evidence?: EvidenceRecord;
}

/**
 * One request: auditors read the evidence record (`GET /v1/reports/requests/{id}`: the six facts,
 * activity, findings, the history chain's verdict); approvers and agents the request object
 * (`GET /v1/requests/{id}`). Approvers decide here; approvers, auditors and the requester revoke.
 */
export function RequestPage({ id, roles, sub }: { id: string; roles: Role[]; sub: string }) {
  const auditor = roles.includes('auditor');
  const [load, reload] = useLoad<Loaded>(async () => {
    if (auditor) {
      const evidence = await getJson<EvidenceRecord>(`/v1/reports/requests/${encodeURIComponent(id)}`);
      return { request: evidence.request, evidence };
    }
    return { request: await getJson<RequestObject>(`/v1/requests/${encodeURIComponent(id)}`) };
  }, id);

  return (
    <section aria-labelledby="request-title">
      <h1 id="request-title">
        Request <code class="wrap">{id}</code>
      </h1>
      {load.state === 'loading' && <Loading what="the request" />}
      {load.state === 'error' && <ErrorBox error={load.error} />}
      {load.state === 'ok' && <RequestView loaded={load.value} roles={roles} sub={sub} reload={reload} />}
    </section>
  );
}

function RequestView({
  loaded,
  roles,
  sub,
  reload,
}: {
  loaded: Loaded;
  roles: Role[];
  sub: string;
  reload: () => void;
}) {
  const { request: r, evidence } = loaded;
  const until = timeoutAt(r);
  const canDecide = roles.includes('approver') && r.status === 'PENDING';
  const canRevoke =
    r.status === 'APPROVED' &&
    (roles.includes('approver') || roles.includes('auditor') || r.requester.sub === sub);
  const onBehalfOf = evidence?.evidence.requester.onBehalfOf ?? r.context?.onBehalfOf;
  return (
    <>
      <p class="status-line">
        <StatusBadge status={r.status} /> {quorumText(r)} · rule <code>{r.policy.rule}</code> (
        {r.policy.effect})
        {until !== undefined && (
          <>
            {' · '}
            <Countdown until={until} />
          </>
        )}
      </p>
      {evidence && <Verdict integrity={evidence.integrity} complete={evidence.complete} />}
      <h2>The six facts</h2>
      <dl class="facts">
        <dt>1. Requester</dt>
        <dd>
          <Untrusted text={r.requester.sub} /> <span class="muted">({r.requester.issuer})</span>
          {typeof onBehalfOf === 'string' && (
            <>
              {' '}
              on behalf of <Untrusted text={onBehalfOf} />
            </>
          )}
          {evidence && evidence.evidence.requester.groups.length > 0 && (
            <span class="muted"> · groups {evidence.evidence.requester.groups.join(', ')}</span>
          )}
        </dd>
        <dt>2. Requested</dt>
        <dd>
          <code>{r.actions.join(', ')}</code> on <code class="wrap">{r.resource}</code>
          {r.durationSeconds ? ` for ${duration(r.durationSeconds)}` : ''} · created{' '}
          <Time iso={r.createdAt} />
        </dd>
        <dt>3. Justification</dt>
        <dd>
          <Untrusted text={r.reason} block />
          {r.context && Object.keys(r.context).length > 0 && (
            <pre class="untrusted-json">
              <Untrusted text={JSON.stringify(r.context, null, 2)} />
            </pre>
          )}
        </dd>
        <dt>4. Decision</dt>
        <dd>
          {r.shownAt && (
            <>
              Shown to approvers <Time iso={r.shownAt} />.{' '}
            </>
          )}
          {r.policy.minReviewSeconds ? `Minimum review ${duration(r.policy.minReviewSeconds)}.` : ''}
          <Decisions decisions={r.decisions} />
        </dd>
        <dt>5. Grant</dt>
        <dd>{r.grant ? <Grant grant={r.grant} /> : <span class="muted">No grant.</span>}</dd>
        <dt>6. Activity</dt>
        <dd>
          {evidence ? (
            <Activity id={r.id} first={evidence} />
          ) : (
            <span class="muted">Activity is in the auditors’ evidence record.</span>
          )}
        </dd>
      </dl>
      {r.call && (
        <>
          <h2>Exact call input</h2>
          <p class="muted">
            SHA-256 <code>{r.call.inputSha256}</code>
          </p>
          <pre class="untrusted-json">
            <Untrusted text={JSON.stringify(r.call.input, null, 2)} />
          </pre>
        </>
      )}
      {evidence && <Findings findings={evidence.findings} />}
      {canDecide && <DecideForm id={r.id} onDone={reload} />}
      {canRevoke && <RevokeForm id={r.id} onDone={reload} />}
    </>
  );
}

function Verdict({ integrity, complete }: { integrity?: Integrity; complete: boolean }) {
  return (
    <p class={integrity && !integrity.valid ? 'verdict bad' : 'verdict'} data-testid="integrity">
      History:{' '}
      {integrity
        ? integrity.valid
          ? 'the chain verifies'
          : `does not verify — ${integrity.problem ?? ''}`
        : 'not checked'}
      {' · '}Record {complete ? 'complete' : 'not complete (yet)'}
    </p>
  );
}

function Decisions({ decisions }: { decisions: Decision[] }) {
  if (decisions.length === 0) return <p class="muted">No decisions yet.</p>;
  return (
    <ScrollTable caption="Decisions" columns={['Approver', 'Decision', 'Via', 'At', 'Review', 'Comment']}>
      {decisions.map((d) => (
        <tr key={`${d.approver}${d.at}`}>
          <td>
            <Untrusted text={d.approver} />
          </td>
          <td>{d.decision}</td>
          <td>{d.channel}</td>
          <td>
            <Time iso={d.at} />
          </td>
          <td>{d.reviewSeconds !== undefined ? duration(d.reviewSeconds) : '—'}</td>
          <td>{d.comment ? <Untrusted text={d.comment} /> : ''}</td>
        </tr>
      ))}
    </ScrollTable>
  );
}

function Grant({ grant }: { grant: NonNullable<RequestObject['grant']> }) {
  return (
    <>
      <code>{grant.actions.join(', ')}</code> on <code class="wrap">{grant.resource}</code> until{' '}
      <Time iso={grant.notAfter} />
      {grant.roleArn && (
        <>
          {' '}
          as <code class="wrap">{grant.roleArn}</code>
        </>
      )}
      {grant.sessionPolicy !== undefined && (
        <details>
          <summary>Exact session policy</summary>
          <pre>{JSON.stringify(grant.sessionPolicy, null, 2)}</pre>
        </details>
      )}
    </>
  );
}

/**
 * The record's events a page at a time: the first page came with the record; "Show more" follows
 * `nextCursor` (a page may carry only sessions, so it reads on until events arrive or none remain).
 */
function Activity({ id, first }: { id: string; first: EvidenceRecord }) {
  const [events, setEvents] = useState(first.evidence.activity);
  const [cursor, setCursor] = useState(first.nextCursor ?? null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  // A reload (after a decision or a revoke) brings a new first page: start again from it.
  useEffect(() => {
    setEvents(first.evidence.activity);
    setCursor(first.nextCursor ?? null);
  }, [first]);
  const total = first.evidence.recorded?.events ?? events.length;
  const more = async () => {
    setBusy(true);
    setError(undefined);
    try {
      let next: string | null = cursor;
      const added: ActivityEvent[] = [];
      while (next && added.length === 0) {
        const page: EvidenceRecord = await getJson<EvidenceRecord>(
          `/v1/reports/requests/${encodeURIComponent(id)}?cursor=${encodeURIComponent(next)}`,
        );
        added.push(...page.evidence.activity);
        next = page.nextCursor ?? null;
      }
      // Pages follow stored keys, not time: the timeline is re-sorted as pages arrive.
      setEvents((shown) =>
        [...shown, ...added].sort((a, b) =>
          a.eventTime < b.eventTime ? -1 : a.eventTime > b.eventTime ? 1 : 0,
        ),
      );
      setCursor(next);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <Timeline events={events} />
      {total > events.length && (
        <p class="muted">
          Showing {events.length} of {total} events.{' '}
          {cursor && (
            <button type="button" onClick={more} disabled={busy}>
              {busy ? 'Loading…' : 'Show more'}
            </button>
          )}
        </p>
      )}
      {error !== undefined && <ErrorBox error={error} />}
    </>
  );
}

function Timeline({ events }: { events: ActivityEvent[] }) {
  if (events.length === 0) return <span class="muted">No linked activity.</span>;
  return (
    <ol class="timeline">
      {events.map((e) => (
        <li key={e.eventId} class={e.errorCode ? 'failed' : ''}>
          <Time iso={e.eventTime} />{' '}
          <code>
            {e.eventSource.replace('.amazonaws.com', '')}:{e.eventName}
          </code>
          {e.errorCode && (
            <>
              {' '}
              — <strong>{e.errorCode}</strong>
            </>
          )}
          {e.resources && e.resources.length > 0 && <span class="muted"> on {e.resources.join(', ')}</span>}
          {e.minted === false && <strong> (key not minted for this request)</strong>}
        </li>
      ))}
    </ol>
  );
}

function Findings({ findings }: { findings: Finding[] }) {
  return (
    <>
      <h2>Findings</h2>
      {findings.length === 0 ? (
        <p class="muted">No findings.</p>
      ) : (
        <ul class="findings">
          {findings.map((f) => (
            <li key={`${f.type}${f.detail}`}>
              <strong>{f.type}</strong>: <Untrusted text={f.detail} />
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

function DecideForm({ id, onDone }: { id: string; onDone: () => void }) {
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const decide = async (decision: 'approve' | 'deny') => {
    setBusy(true);
    setError(undefined);
    try {
      await postJson(`/v1/requests/${encodeURIComponent(id)}/decisions`, {
        decision,
        ...(comment.trim() ? { comment: comment.trim() } : {}),
      });
      onDone();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="decide" onSubmit={(e) => e.preventDefault()} aria-labelledby="decide-title">
      <h2 id="decide-title">Decide</h2>
      <label for="comment">Comment (recorded with your decision)</label>
      <textarea
        id="comment"
        maxLength={1000}
        value={comment}
        onInput={(e) => setComment(e.currentTarget.value)}
      />
      <div class="buttons">
        <button type="button" class="approve" disabled={busy} onClick={() => decide('approve')}>
          Approve
        </button>
        <button type="button" class="deny" disabled={busy} onClick={() => decide('deny')}>
          Deny
        </button>
      </div>
      {error !== undefined && <ErrorBox error={error} />}
    </form>
  );
}

function RevokeForm({ id, onDone }: { id: string; onDone: () => void }) {
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  return (
    <div class="revoke">
      <h2>Revoke</h2>
      <p class="muted">Ends the grant now: sessions already minted stop working.</p>
      <button
        type="button"
        class="deny"
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          try {
            await postJson(`/v1/requests/${encodeURIComponent(id)}/revoke`, {});
            onDone();
          } catch (e) {
            setError(e instanceof ApiError ? e : new Error('Revoking failed.'));
          } finally {
            setBusy(false);
          }
        }}
      >
        Revoke access
      </button>
      {error !== undefined && <ErrorBox error={error} />}
    </div>
  );
}
