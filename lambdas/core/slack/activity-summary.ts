import type { ActivitySummary } from '../activity.js';
import type { SlackMessage } from '../ports.js';
import { type Block, code, finish, plural, section, sections } from './blocks.js';

const MAX_EVENT_LINES = 15;

/**
 * The thread reply posted when a grant ends: what was done with it. Its numbers and kinds of call
 * are activity.ts `summarizeActivity`'s, as the evidence record's are, so the two always agree.
 */
export function buildActivitySummary(activity: ActivitySummary): SlackMessage {
  const calls = Math.max(0, Math.trunc(activity.totals.calls));
  const denied = Math.max(0, Math.trunc(activity.totals.denied));
  const headline =
    calls === 0
      ? 'Grant ended. No API calls were recorded under it (CloudTrail can lag by several minutes).'
      : `Grant ended. ${plural(calls, 'API call')} recorded under it, ${denied} denied.`;

  // Kinds of call, most frequent first, so a long session stays one short reply.
  const lines = activity.calls.slice(0, MAX_EVENT_LINES).map((group) => {
    const error = group.errorCode ? ` — :warning: ${code(group.errorCode, 80)}` : '';
    return `• ${code(group.eventName, 120)} ×${group.count}${error}`;
  });
  if (activity.calls.length > MAX_EVENT_LINES)
    lines.push(`• _${activity.calls.length - MAX_EVENT_LINES} more kinds of call not shown_`);
  if (activity.truncated)
    lines.push('_Too many events to read them all: the kinds of call above are from the first ones._');

  const blocks: Block[] = [section(`*${headline}*`), ...sections(lines)];
  return finish(headline, blocks);
}
