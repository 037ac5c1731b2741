import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from './api.js';

/**
 * Text from agents (reason, context, comments) is untrusted. Preact renders strings as text nodes,
 * never as markup; on top of that, invisible and direction-changing characters (U+202E and friends)
 * are shown as visible `[U+202E]` marks so they cannot disguise what surrounds them, and the
 * whole is isolated in `<bdi>` so it cannot reorder the page around it.
 */
const HIDDEN =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g;

export function Untrusted({ text, block }: { text: unknown; block?: boolean }) {
  const value = typeof text === 'string' ? text : JSON.stringify(text ?? '');
  const parts: ComponentChildren[] = [];
  let last = 0;
  for (const match of value.matchAll(HIDDEN)) {
    const at = match.index ?? 0;
    if (at > last) parts.push(value.slice(last, at));
    const code = match[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    parts.push(
      <span class="hidden-char" title="An invisible or direction-changing character">
        [U+{code}]
      </span>,
    );
    last = at + match[0].length;
  }
  if (last < value.length) parts.push(value.slice(last));
  return block ? (
    <bdi class="untrusted block" dir="ltr">
      {parts}
    </bdi>
  ) : (
    <bdi class="untrusted" dir="ltr">
      {parts}
    </bdi>
  );
}

const pad = (n: number) => String(n).padStart(2, '0');
export function utcText(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(
    d.getUTCMinutes(),
  )}:${pad(d.getUTCSeconds())} UTC`;
}

/** A time in the viewer's zone, with UTC on hover (and for screen readers, the machine form). */
export function Time({ iso }: { iso: string | undefined }) {
  if (!iso) return <span>—</span>;
  const d = new Date(iso);
  const local = Number.isNaN(d.getTime())
    ? iso
    : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  return (
    <time dateTime={iso} title={utcText(iso)}>
      {local}
    </time>
  );
}

export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}

export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${pad(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${pad(m % 60)} min`;
}

/** A live countdown to `until`; "timed out" once past. */
export function Countdown({ until }: { until: number }) {
  const now = useNow();
  const left = (until - now) / 1000;
  return (
    <span class={left < 300 ? 'countdown soon' : 'countdown'}>
      {left > 0 ? `${duration(left)} left` : 'timing out'}
    </span>
  );
}

export function ErrorBox({ error }: { error: unknown }) {
  if (error instanceof ApiError) {
    return (
      <div class="error" role="alert">
        <p>{error.message}</p>
        <p class="muted">
          Code <code>{error.code}</code>
          {error.status ? `, HTTP ${error.status}` : ''}
          {typeof error.details?.field === 'string' ? `, field ${error.details.field}` : ''}
        </p>
      </div>
    );
  }
  return (
    <div class="error" role="alert">
      <p>{error instanceof Error ? error.message : 'Something went wrong.'}</p>
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export type Load<T> = { state: 'loading' } | { state: 'error'; error: unknown } | { state: 'ok'; value: T };

/** Runs `load` whenever `key` changes; `reload` runs it again. */
export function useLoad<T>(load: () => Promise<T>, key: string): [Load<T>, () => void] {
  const [result, setResult] = useState<Load<T>>({ state: 'loading' });
  const [round, setRound] = useState(0);
  // `key` names everything `load` reads; `load` itself is a new closure at every render.
  useEffect(() => {
    let live = true;
    setResult({ state: 'loading' });
    load().then(
      (value) => live && setResult({ state: 'ok', value }),
      (error: unknown) => live && setResult({ state: 'error', error }),
    );
    return () => {
      live = false;
    };
  }, [key, round]);
  return [result, () => setRound((r) => r + 1)];
}

export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge status-${status.toLowerCase().replace(/[^a-z_]/g, '')}`}>{status}</span>;
}

export const requestHref = (id: string) => `#/requests/${encodeURIComponent(id)}`;

/** Paging over an API's opaque cursors: the page shown, and the cursors of the pages before it. */
export interface Pages {
  cursor: string | undefined;
  trail: string[];
  /** Back to the first page (filters changed). */
  reset(): void;
  newer(): void;
  older(nextCursor: string | null | undefined): void;
}

export function usePages(): Pages {
  const [cursor, setCursor] = useState<string | undefined>(undefined);
  const [trail, setTrail] = useState<string[]>([]);
  return {
    cursor,
    trail,
    reset: () => {
      setCursor(undefined);
      setTrail([]);
    },
    newer: () => {
      setCursor(trail.at(-1) || undefined);
      setTrail(trail.slice(0, -1));
    },
    older: (nextCursor) => {
      setTrail([...trail, cursor ?? '']);
      setCursor(nextCursor ?? undefined);
    },
  };
}

/** Newer/Older buttons for a list answered with `nextCursor`. */
export function Pager({ pages, nextCursor }: { pages: Pages; nextCursor: string | null | undefined }) {
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled={pages.trail.length === 0} onClick={() => pages.newer()}>
        Newer
      </button>
      <button type="button" disabled={!nextCursor} onClick={() => pages.older(nextCursor)}>
        Older
      </button>
    </nav>
  );
}

/** A table that scrolls sideways on narrow screens, with a caption for screen readers and its column heads. */
export function ScrollTable({
  caption,
  columns,
  class: className,
  children,
}: {
  caption: string;
  columns: readonly string[];
  class?: string;
  children: ComponentChildren;
}) {
  return (
    <div class="scroll">
      <table {...(className ? { class: className } : {})}>
        <caption class="sr-only">{caption}</caption>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c} scope="col">
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
