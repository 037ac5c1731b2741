import type { CountersignConfig, Rule } from './config.js';
import { FailClosedError } from './errors.js';
import { globMatch } from './glob.js';
import type { PolicyOutcome } from './model.js';

/** Rules match with IAM-style globs (glob.ts); re-exported for the policy's other readers. */

/**
 * The policy engine: the config's rules in order, first match wins, else deny (DESIGN.md §3).
 *
 * A request may name several actions, and a rule is written about actions one at a time, so the
 * engine has to decide what "matches" means for the whole request. It always picks the reading that
 * fails closed: a `deny` rule applies if ANY requested action matches it, an `allow` or `approve`
 * rule only if ALL of them do. Access levels are given for the request as a whole (the union over
 * its actions, compound levels such as "Permissions management, Write" counted as both): a deny
 * rule applies if it names ANY of them, an allow/approve rule only if it names ALL of them — which
 * for allow is exactly "every action's every level is named", and for deny is never narrower.
 */

/** What approvals wait for when a rule does not say (DESIGN.md §3 example). */
export const DEFAULT_APPROVAL_TIMEOUT_SECONDS = 3_600;
/** The contract's ceiling on `durationSeconds` (DESIGN.md §4), used when a rule sets no maximum. */
export const MAX_GRANT_DURATION_SECONDS = 43_200;

export interface PolicyInput {
  /** Canonical action names, as validateAccessRequest returns them. */
  actions: readonly string[];
  resource: string;
  /**
   * Access levels of the requested actions (ValidatedAccessRequest.accessLevels). Empty means
   * unknown: it matches every deny rule that names access levels and no allow/approve rule that does.
   */
  accessLevels: readonly string[];
  requester: { sub: string; groups: readonly string[] };
}

export function evaluatePolicy(config: CountersignConfig, input: PolicyInput): PolicyOutcome {
  const accessLevels = [...input.accessLevels];
  // An empty request would satisfy "all actions match" vacuously; validation never lets one through.
  if (input.actions.length === 0) return { rule: 'default', effect: 'deny', accessLevels };
  for (const rule of config.rules) {
    if (ruleMatches(rule, input)) return outcomeOf(rule, accessLevels);
  }
  return { rule: 'default', effect: config.default, accessLevels };
}

/**
 * The grant's length: what the agent asked for, capped by the matching rule (or by the contract's
 * 43,200 s when the rule sets no cap). Meaningful for allow/approve; a denied request keeps its ask.
 */
export function grantDurationSeconds(requested: number, outcome: PolicyOutcome): number {
  if (!Number.isInteger(requested) || requested <= 0) {
    throw new FailClosedError('the requested duration is not a positive whole number of seconds');
  }
  return Math.min(requested, outcome.maxDurationSeconds ?? MAX_GRANT_DURATION_SECONDS);
}

function ruleMatches(rule: Rule, input: PolicyInput): boolean {
  const match = rule.match;
  if (match.resources && !match.resources.some((pattern) => globMatch(pattern, input.resource))) return false;
  if (match.agents && !match.agents.some((pattern) => globMatch(pattern, input.requester.sub))) return false;
  if (
    match.agentGroups &&
    !input.requester.groups.some((group) => match.agentGroups!.some((pattern) => globMatch(pattern, group)))
  ) {
    return false;
  }
  const deny = rule.effect === 'deny';
  // Config refuses exceptActions on deny rules; were one there anyway, ignoring it fails closed.
  if (!deny && match.exceptActions) {
    const excepted = match.exceptActions;
    if (input.actions.some((action) => excepted.some((pattern) => globMatch(pattern, action, true))))
      return false;
  }
  if (match.accessLevels) {
    const named = (level: string) => (match.accessLevels as readonly string[]).includes(level);
    const levels = input.accessLevels;
    const holds = levels.length === 0 ? deny : deny ? levels.some(named) : levels.every(named);
    if (!holds) return false;
  }
  if (!match.actions) return true;
  const actionMatches = (action: string) =>
    match.actions!.some((pattern) => globMatch(pattern, action, true));
  return deny ? input.actions.some(actionMatches) : input.actions.every(actionMatches);
}

function outcomeOf(rule: Rule, accessLevels: string[]): PolicyOutcome {
  const outcome: PolicyOutcome = { rule: rule.name, effect: rule.effect, accessLevels };
  if (rule.effect === 'deny') return outcome;
  if (rule.mode === 'call') outcome.mode = 'call';
  if (rule.maxDurationSeconds !== undefined) outcome.maxDurationSeconds = rule.maxDurationSeconds;
  if (rule.effect === 'approve') {
    // The config refuses an approve rule without approvers; an empty list here still approves nothing.
    outcome.approvers = [...(rule.approvers ?? [])];
    outcome.quorum = rule.quorum ?? 1;
    outcome.approvalTimeoutSeconds = rule.approvalTimeoutSeconds ?? DEFAULT_APPROVAL_TIMEOUT_SECONDS;
    outcome.minReviewSeconds = rule.minReviewSeconds ?? 0;
    outcome.minReviewMode = rule.minReviewMode ?? 'refuse';
  }
  return outcome;
}
