import { escapeMrkdwn, plainText } from '../escape.js';
import type { AccessRequest, Decision, PolicyDocument, RequestStatus } from '../model.js';
import type { SlackMessage } from '../ports.js';
import {
  addSeconds,
  type Block,
  code,
  context,
  finish,
  formatDuration,
  plain,
  plural,
  SLACK_LIMITS,
  section,
  sections,
  slackDate,
} from './blocks.js';

/**
 * The approval message and its outcome rewrite. Pure functions of their input: the workflow posts
 * the approval message, the decision path rewrites it with the outcome.
 *
 * Two kinds of text appear here. Facts Countersign derived itself (verified requester, validated
 * resource and actions, rule, quorum, duration, the session policy it will grant) are shown as facts.
 * What the agent wrote (`reason`, `context`, `onBehalfOf`) is shown escaped, cut to size, and
 * labelled as the agent's own words, so it can neither ping, link, nor pose as a fact.
 */

function quorumOf(request: AccessRequest): number {
  return Math.max(1, request.policy.quorum ?? 1);
}

function accessLevel(request: AccessRequest): string {
  return request.policy.accessLevels.length > 0 ? request.policy.accessLevels.join(', ') : 'Unknown';
}

function approversOf(decisions: readonly Decision[]): string[] {
  return decisions.filter((d) => d.decision === 'approve').map((d) => d.approver);
}

function identityList(identities: readonly string[]): string {
  if (identities.length === 0) return 'nobody';
  return identities
    .slice(0, 10)
    .map((i) => `*${escapeMrkdwn(i, { maxLength: 120 })}*`)
    .concat(identities.length > 10 ? [`${identities.length - 10} more`] : [])
    .join(', ');
}

/** The facts section: only what Countersign verified or derived, plus `onBehalfOf` labelled as a claim. */
function factsBlocks(request: AccessRequest, history?: AgentRecentCounts): Block[] {
  const { requester, policy } = request;
  const lines = [
    `*Requester:* ${code(requester.sub, 150)} (verified token from ${code(requester.issuer, 150)})`,
  ];
  if (request.context?.onBehalfOf !== undefined) {
    lines.push(
      `*On behalf of* _(claimed by the agent, not verified)_: ${code(String(request.context.onBehalfOf), 150)}`,
    );
  }
  lines.push(
    `*Resource:* ${code(request.resource, 700)}`,
    `*Actions:* ${request.actions
      .slice(0, 10)
      .map((a) => code(a, 100))
      .join(', ')}`,
    `*Access level:* ${escapeMrkdwn(accessLevel(request), { maxLength: 200 })}`,
    `*Rule:* ${code(policy.rule, 80)}  ·  *Approvals needed:* ${quorumOf(request)}  ·  *Duration:* ${formatDuration(request.durationSeconds)}`,
  );
  if (history) {
    const requests = history.capped
      ? `${history.requests7d}+ requests`
      : plural(history.requests7d, 'request');
    const denied = `${history.denied7d}${history.capped ? '+' : ''} denied`;
    lines.push(`*This agent, last 7 days:* ${requests}, ${denied}`);
  }
  // Budgets above keep this under 3,000 characters even at every maximum; sections() is the backstop.
  return sections(lines);
}

const REASON_LABEL = "*Reason* — _the agent's own words, not verified:_\n> ";
const CONTEXT_LABEL = '*Context* — _supplied by the agent, not verified:_';
const CONTEXT_KEYS: Readonly<Record<string, string>> = {
  task: 'task',
  runId: 'run id',
  toolCallId: 'tool call id',
  model: 'model',
};

/** The agent's `reason` and `context`, quoted and labelled as untrusted. */
function agentWordsBlocks(request: AccessRequest): Block[] {
  const reason = escapeMrkdwn(request.reason ?? '', {
    newline: '\n> ',
    maxLength: SLACK_LIMITS.sectionText - REASON_LABEL.length,
  });
  const blocks = [section(`${REASON_LABEL}${reason || '_(empty)_'}`)];

  const entries = Object.entries(request.context ?? {}).filter(([key]) => key !== 'onBehalfOf');
  if (entries.length > 0) {
    const lines = entries.slice(0, 8).map(([key, value]) => {
      const label = CONTEXT_KEYS[key] ?? escapeMrkdwn(key, { maxLength: 40 });
      const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
      return `• ${label}: ${code(text, 300)}`;
    });
    if (entries.length > 8) lines.push(`• _${entries.length - 8} more entries not shown_`);
    blocks.push(context(`${CONTEXT_LABEL}\n${lines.join('\n')}`));
  }
  return blocks;
}

const POLICY_DISPLAY_BUDGET = 2600;
const CALL_DISPLAY_BUDGET = 2400;

/**
 * An exact call's input, as approvers must see it: the operation, the input's JSON escaped as code
 * (cut to fit a section, and saying so), and the SHA-256 of its canonical JSON, which the API and
 * the evidence record carry too.
 */
function callBlocks(request: AccessRequest): Block[] {
  const call = request.call;
  if (!call) return [];
  const json = JSON.stringify(call.input, null, 2);
  const whole = escapeMrkdwn(json, { code: true });
  const shown =
    whole.length <= CALL_DISPLAY_BUDGET
      ? whole
      : escapeMrkdwn(json, { code: true, maxLength: CALL_DISPLAY_BUDGET });
  const blocks: Block[] = [
    section(`*Exact call* ${code(call.operation, 80)} — only this call is made, once:\n\`\`\`${shown}\`\`\``),
    context(
      `Input SHA-256 (canonical JSON): ${code(call.inputSha256, 80)}${
        shown !== whole
          ? `  ·  shortened for display (${json.length} characters); the full input is in the request`
          : ''
      }`,
    ),
  ];
  return blocks;
}

/** The session policy as a code block; a policy too long for one block is cut, and says so. */
function policyBlocks(policy: PolicyDocument, title: string): Block[] {
  const json = JSON.stringify(policy, null, 2);
  const whole = escapeMrkdwn(json, { code: true });
  const shown =
    whole.length <= POLICY_DISPLAY_BUDGET
      ? whole
      : escapeMrkdwn(json, { code: true, maxLength: POLICY_DISPLAY_BUDGET });
  const blocks = [section(`*${title}*\n\`\`\`${shown}\`\`\``)];
  if (shown !== whole) {
    blocks.push(
      context(
        `Session policy shortened for display (${json.length} characters). The full policy is in the request's evidence record.`,
      ),
    );
  }
  return blocks;
}

function decisionLine(d: Decision): string {
  const icon = d.decision === 'approve' ? ':white_check_mark:' : ':no_entry:';
  const verb = d.decision === 'approve' ? 'approved' : 'denied';
  const comment = d.comment ? ` — “${escapeMrkdwn(d.comment, { maxLength: 300, newline: ' ' })}”` : '';
  return `${icon} *${escapeMrkdwn(d.approver, { maxLength: 120 })}* ${verb} via ${escapeMrkdwn(d.channel, { maxLength: 20 })}, ${slackDate(d.at)}${comment}`;
}

function decisionsBlocks(decisions: readonly Decision[], quorum: number): Block[] {
  if (decisions.length === 0) return [];
  const approvals = approversOf(decisions).length;
  const lines = decisions.slice(0, 12).map(decisionLine);
  if (decisions.length > 12) lines.push(`_${decisions.length - 12} more_`);
  return sections([`*Decisions so far* (${approvals} of ${quorum} approvals)`, ...lines]);
}

function footer(request: AccessRequest, extra?: string): Block {
  const parts = [`Request ${code(request.id, 60)}`, `asked ${slackDate(request.createdAt)}`];
  if (extra) parts.push(extra);
  return context(parts.join('  ·  '));
}

/** Notification fallback: server facts only; the agent's words never reach a push notification. */
function fallback(prefix: string, request: AccessRequest): string {
  // Validated action names and ARNs: escaped as code so their colons stay real colons in notifications.
  const actions = request.actions.slice(0, 10).map((a) => escapeMrkdwn(a, { code: true, maxLength: 120 }));
  return `${prefix}: ${escapeMrkdwn(request.requester.sub, { maxLength: 200 })} — ${actions.join(', ')} on ${escapeMrkdwn(request.resource, { code: true, maxLength: 1000 })}`;
}

/** The requesting agent's requests of the last 7 days, as the approval message shows them. */
export interface AgentRecentCounts {
  requests7d: number;
  denied7d: number;
  /** The agent made more requests than were counted: both counts are lower bounds (shown "500+"). */
  capped?: boolean;
}

export interface ApprovalMessageInput {
  request: AccessRequest;
  /** The session policy an approval would grant, exactly as it would be sent to STS. */
  sessionPolicy: PolicyDocument;
  history: AgentRecentCounts;
  /** Decisions so far; defaults to `request.decisions`. */
  decisions?: readonly Decision[];
  /** The role the session would be minted from, when known. */
  roleArn?: string;
}

/** The message approvers act on: facts, the agent's words, the policy, and Approve/Deny buttons. */
export function buildApprovalMessage(input: ApprovalMessageInput): SlackMessage {
  const { request } = input;
  const decisions = input.decisions ?? request.decisions ?? [];
  const quorum = quorumOf(request);
  const sub = plainText(request.requester.sub, 60);
  const level = accessLevel(request);

  const confirmText = `${sub} gets ${request.actions.join(', ')} on ${request.resource} for ${formatDuration(request.durationSeconds)}.`;
  const buttons: Block = {
    type: 'actions',
    block_id: 'countersign_decision',
    elements: [
      {
        type: 'button',
        action_id: 'approve',
        text: plain('Approve', SLACK_LIMITS.buttonText),
        style: 'primary',
        value: request.id,
        confirm: {
          title: plain('Grant this access?', SLACK_LIMITS.confirmTitle),
          text: plain(confirmText, SLACK_LIMITS.confirmText),
          confirm: plain('Approve', SLACK_LIMITS.confirmButton),
          deny: plain('Cancel', SLACK_LIMITS.confirmButton),
          style: 'primary',
        },
      },
      {
        type: 'button',
        action_id: 'deny',
        text: plain('Deny', SLACK_LIMITS.buttonText),
        style: 'danger',
        value: request.id,
      },
    ],
  };

  const shownAt = request.shownAt ?? request.createdAt;
  const closes =
    request.policy.approvalTimeoutSeconds !== undefined
      ? addSeconds(shownAt, request.policy.approvalTimeoutSeconds)
      : undefined;
  const review = request.policy.minReviewSeconds
    ? `take at least ${plural(request.policy.minReviewSeconds, 'second')} to review`
    : undefined;

  const roleNote = input.roleArn ? ` (from role ${code(input.roleArn, 300)})` : '';
  const blocks: Block[] = [
    { type: 'header', text: plain(`Approval needed: ${level} access for ${sub}`, SLACK_LIMITS.header) },
    ...factsBlocks(request, input.history),
    { type: 'divider' },
    ...agentWordsBlocks(request),
    { type: 'divider' },
    ...callBlocks(request),
    ...policyBlocks(input.sessionPolicy, `Session policy this approval would grant${roleNote}:`),
    ...decisionsBlocks(decisions, quorum),
    buttons,
    footer(
      request,
      [closes ? `approvals close ${slackDate(closes)}` : '', review ?? ''].filter(Boolean).join('  ·  ') ||
        undefined,
    ),
  ];
  return finish(fallback('Approval needed', request), blocks);
}

export interface OutcomeMessageInput {
  /** The request in its final (or approved) state; its status decides the wording. */
  request: AccessRequest;
  /** The granted policy; defaults to `request.grant.sessionPolicy`. */
  sessionPolicy?: PolicyDocument;
  history?: AgentRecentCounts;
}

const OUTCOME_TITLES: Readonly<Record<Exclude<RequestStatus, 'PENDING'>, [string, string]>> = {
  APPROVED: [':white_check_mark:', 'Approved'],
  DENIED: [':no_entry:', 'Denied'],
  TIMED_OUT: [':hourglass:', 'Timed out'],
  EXPIRED: [':clock4:', 'Expired'],
  REVOKED: [':no_entry_sign:', 'Revoked'],
  EXECUTED: [':gear:', 'Executed'],
};

function outcomeLine(request: AccessRequest, decisions: readonly Decision[]): string {
  const [icon, title] = OUTCOME_TITLES[request.status as Exclude<RequestStatus, 'PENDING'>];
  const approvers = identityList(approversOf(decisions));
  const notAfter = request.grant?.notAfter;
  const grantEnd = notAfter ? slackDate(notAfter) : 'the end of the grant';
  const by = request.outcome?.by;
  const at = request.outcome?.at ? ` at ${slackDate(request.outcome.at)}` : '';
  switch (request.status) {
    case 'APPROVED':
      return `${icon} *${title}* by ${approvers}. Access until ${grantEnd} (${formatDuration(request.grant?.durationSeconds ?? request.durationSeconds)}).`;
    case 'DENIED': {
      const deny = decisions.find((d) => d.decision === 'deny');
      const who = deny?.approver ?? by;
      // A deny by a person shows their comment; a deny without one (the workflow failed) shows why.
      const words = deny ? deny.comment : request.outcome?.reason;
      const comment = words ? `\n> ${escapeMrkdwn(words, { maxLength: 1000, newline: '\n> ' })}` : '';
      return `${icon} *${title}*${who ? ` by *${escapeMrkdwn(who, { maxLength: 120 })}*` : ''}${at}. Nothing was granted.${comment}`;
    }
    case 'TIMED_OUT':
      return `${icon} *${title}*: no decision in time${at}. Nothing was granted.`;
    case 'EXPIRED':
      return `${icon} *${title}*: approved by ${approvers}; access ended ${grantEnd}.`;
    case 'REVOKED': {
      const reason = request.outcome?.reason
        ? `\n> ${escapeMrkdwn(request.outcome.reason, { maxLength: 1000, newline: '\n> ' })}`
        : '';
      return `${icon} *${title}*${by ? ` by *${escapeMrkdwn(by, { maxLength: 120 })}*` : ''}${at}. Sessions minted for it stop working.${reason}`;
    }
    default:
      throw new Error(`no outcome message for status ${request.status}`);
  }
}

/** The approval message rewritten for its outcome, with no buttons left to click. */
export function buildOutcomeMessage(input: OutcomeMessageInput): SlackMessage {
  const { request } = input;
  if (request.status === 'PENDING') throw new Error('a PENDING request has no outcome message');
  const decisions = request.decisions ?? [];
  const [, title] = OUTCOME_TITLES[request.status];
  const policy = input.sessionPolicy ?? request.grant?.sessionPolicy;
  const roleNote = request.grant?.roleArn ? ` (from role ${code(request.grant.roleArn, 300)})` : '';

  const blocks: Block[] = [
    {
      type: 'header',
      text: plain(
        `${title}: ${accessLevel(request)} access for ${plainText(request.requester.sub, 60)}`,
        SLACK_LIMITS.header,
      ),
    },
    section(outcomeLine(request, decisions)),
    ...factsBlocks(request, input.history),
    { type: 'divider' },
    ...agentWordsBlocks(request),
    ...callBlocks(request),
  ];
  if (
    policy &&
    (request.status === 'APPROVED' || request.status === 'EXPIRED' || request.status === 'REVOKED')
  ) {
    blocks.push({ type: 'divider' }, ...policyBlocks(policy, `Session policy granted${roleNote}:`));
  }
  blocks.push(...decisionsBlocks(decisions, quorumOf(request)), footer(request));
  return finish(fallback(title, request), blocks);
}
