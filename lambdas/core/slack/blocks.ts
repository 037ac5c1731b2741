import { escapeMrkdwn, plainText, truncate } from '../escape.js';
import type { SlackMessage } from '../ports.js';

/**
 * Block Kit building blocks shared by every Countersign message: Slack's limits, text objects that
 * Slack never auto-links or auto-parses, and the few formats (dates, durations, counts) they show.
 */

/** Slack's Block Kit limits (docs.slack.dev, "Block Kit" reference pages). */
export const SLACK_LIMITS = {
  blocks: 50,
  sectionText: 3000,
  sectionFields: 10,
  fieldText: 2000,
  contextElements: 10,
  header: 150,
  buttonText: 75,
  buttonValue: 2000,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
  fallbackText: 40_000,
} as const;

/** One Block Kit block or text object, as Slack's JSON has it. */
export type Block = Record<string, unknown>;

// verbatim: Slack must not auto-link URLs or auto-parse names in anything we send.
function mrkdwn(text: string): Block {
  return { type: 'mrkdwn', text, verbatim: true };
}

export function plain(text: string, max: number): Block {
  // plain_text must not be empty; an identity that cleans to nothing shows as a dash.
  // emoji: false — an identity such as `:white_check_mark: approved` must read as the text it is.
  return { type: 'plain_text', text: plainText(text, max) || '—', emoji: false };
}

export function section(text: string): Block {
  return { type: 'section', text: mrkdwn(truncate(text, SLACK_LIMITS.sectionText)) };
}

/**
 * Lines packed into as few sections as fit Slack's 3,000-character limit, so a long list is split
 * rather than cut mid-entity.
 */
export function sections(lines: readonly string[]): Block[] {
  const blocks: Block[] = [];
  let current = '';
  for (const line of lines) {
    const candidate = current ? `${current}\n${line}` : line;
    if (candidate.length <= SLACK_LIMITS.sectionText || !current) {
      current = candidate;
    } else {
      blocks.push(section(current));
      current = line;
    }
  }
  if (current) blocks.push(section(current));
  return blocks;
}

export function context(text: string): Block {
  return { type: 'context', elements: [mrkdwn(truncate(text, SLACK_LIMITS.sectionText))] };
}

/** Escaped untrusted text inside inline code (ARNs, action names, identities). */
export function code(text: string, max: number): string {
  return `\`${escapeMrkdwn(text, { code: true, maxLength: max }) || ' '}\``;
}

/** `<!date^…>` renders in each reader's own time zone; the ISO text is the fallback. */
export function slackDate(iso: string): string {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return escapeMrkdwn(iso, { maxLength: 40 });
  const fallback = new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time}|${fallback}>`;
}

export function addSeconds(iso: string, seconds: number): string | undefined {
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? new Date(ms + seconds * 1000).toISOString() : undefined;
}

/** `15 min`, `1 h 30 min`, `45 s`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  const parts = [h ? `${h} h` : '', m ? `${m} min` : '', rest && !h ? `${rest} s` : ''].filter(Boolean);
  return parts.join(' ');
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function finish(text: string, blocks: Block[]): SlackMessage {
  if (blocks.length > SLACK_LIMITS.blocks) throw new Error(`Slack message has ${blocks.length} blocks`);
  return { text: truncate(text, SLACK_LIMITS.fallbackText), blocks };
}
