import { isRequester } from './access.js';
import { assertClaimable, MIN_SESSION_SECONDS, mintSession, recordSession } from './credentials.js';
import {
  AlreadyExecutedError,
  ConditionFailedError,
  FailClosedError,
  NotACallError,
  NotFoundError,
} from './errors.js';
import { inputSha256, sha256Hex } from './exact-call.js';
import { appendHistory, canonicalJson, verifyKeyedHistory } from './history.js';
import { type MaskingRules, maskText, maskValue } from './masking.js';
import type { AccessRequest, Caller, Execution, ProcessCredentials } from './model.js';
import type { Clock, CredentialMinter, Mac, RequestStore } from './ports.js';
import { buildSessionPolicy } from './session-policy.js';
import { changeRequest } from './transitions.js';

/**
 * Executing an exact call: `POST /v1/requests/{id}/execute` (DESIGN.md §4 "Exact calls").
 *
 * Once, and claimed before it runs: the request moves APPROVED → EXECUTED (execution `running`) in
 * one conditional write, so of two concurrent executes exactly one makes the call; the other is
 * `409 AlreadyExecuted`. If the function dies between the claim and the end of the call, the request
 * stays EXECUTED/running — the call may have happened, so it is never offered again (fail closed).
 *
 * Then a session is minted for exactly that call — the same session policy builder, the one action
 * on the one ARN, ending at the grant's notAfter or a few minutes from now, whichever is first — and
 * recorded like any other session (while the call runs), so the call's CloudTrail event links to the
 * request. The call is made with it; its output is masked before it is stored or returned, and cut
 * to a stored limit.
 *
 * The mint waits for the claim, although running both at once would save one AssumeRole round trip
 * (docs/benchmarks.md, section 4b): the claim is what bounds minting to one session per approval.
 * Minting alongside it, each of N concurrent executes of one approval would mint a session and all
 * but one would drop theirs unused — each harmless (its secret never leaves the function, its
 * policy allows only the approved call for minutes), but N is the agent's to choose, and every
 * session costs an AssumeRole on the shared minting role, which credentials claims bound with
 * per-agent limits that execute does not need while it mints once.
 */

/** The masked output is stored (and returned) up to this many characters of JSON. */
export const MAX_OUTPUT_CHARS = 32 * 1024;
/** The call's session policy ends at most this long after the execute began. */
export const CALL_WINDOW_SECONDS = 300;

/** What the call returned (plain JSON, bodies already read as text) or the AWS error it failed with. */
export type CallOutcome =
  | { ok: true; output: unknown }
  | { ok: false; awsError: { code: string; message: string } };

export interface CallToMake {
  /** `dynamodb:PutItem` */
  operation: string;
  input: Record<string, unknown>;
  /** The ARN's region, or undefined for ARNs without one (S3). */
  region?: string;
  credentials: ProcessCredentials;
}

/** Makes one AWS API call with given credentials (lambdas/adapters/call-executor.ts). */
export interface CallExecutor {
  /** Whether this executor can make `operation` (validation knows more operations than run yet). */
  supports(operation: string): boolean;
  execute(call: CallToMake): Promise<CallOutcome>;
}

export interface ExactCallDeps {
  store: RequestStore;
  minter: CredentialMinter;
  executor: CallExecutor;
  clock: Clock;
  masking: MaskingRules;
  /**
   * The history key: the approved call is run only if the request's keyed history verifies and
   * last recorded exactly this request.
   */
  mac?: Mac;
}

export class ExactCalls {
  constructor(private readonly deps: ExactCallDeps) {}

  async execute(caller: Caller, requestId: string): Promise<Execution> {
    const { store, clock } = this.deps;
    const found = await store.get(requestId, { consistent: true });
    // Only the requester may execute; to anyone else the request does not exist.
    if (!found || !isRequester(caller, found)) throw new NotFoundError(`No request ${requestId}.`);
    if (!found.call) {
      throw new NotACallError(
        'This request is for a session, not for one exact call; claim its credentials.',
      );
    }

    if (!this.deps.executor.supports(found.call.operation)) {
      // Before the claim: nothing is spent on a call that cannot be made.
      throw new FailClosedError(
        `Exact calls of ${found.call.operation} are validated but not yet executed by this version of Countersign.`,
      );
    }
    // Refusals first (they need no proof; the claim below checks again, atomically).
    assertExecutable(found, clock.now());
    // Someone with write access to the table could change the stored input and recompute its plain
    // SHA-256 beside it: what runs must be what the keyed history recorded when it was approved.
    // Checked before the claim, so a refusal spends nothing. (Without a history key there is nothing
    // a table writer could not recompute, so nothing to check.)
    const verdict = this.deps.mac
      ? await verifyKeyedHistory(found.history ?? [], found, this.deps.mac)
      : { valid: true as const, problem: undefined };
    if (!verdict.valid) {
      throw new FailClosedError('The request no longer matches its recorded history; the call is not made.', {
        details: { requestId, problem: verdict.problem },
      });
    }
    const startedAt = clock.now().toISOString();
    // One conditional write on the state read and verified above (no second read); if it changed
    // since, the general path re-reads and every check runs again on the state being replaced.
    const { request } = await changeRequest(
      this.deps,
      requestId,
      (current, now) => {
        // Only the requester may execute; to anyone else the request does not exist.
        if (!isRequester(caller, current)) throw new NotFoundError(`No request ${requestId}.`);
        if (!current.call) {
          throw new NotACallError(
            'This request is for a session, not for one exact call; claim its credentials.',
          );
        }
        if (!this.deps.executor.supports(current.call.operation)) {
          // Before the claim: nothing is spent on a call that cannot be made.
          throw new FailClosedError(
            `Exact calls of ${current.call.operation} are validated but not executed by this version of Countersign.`,
          );
        }
        assertExecutable(current, now);
        return {
          patch: { status: 'EXECUTED', execution: { status: 'running', masked: [], startedAt } },
          event: `execution claimed by ${caller.sub}`,
        };
      },
      // Sealed here, so recording the result below signs only its own entry.
      { current: found, ...(this.deps.mac ? { mac: this.deps.mac } : {}) },
    );

    let execution: Execution;
    try {
      // The call and grant checked above, whatever was written between that read and the claim.
      execution = await this.run({ ...request, call: found.call, grant: found.grant });
    } catch {
      // Something failed before the call was sent: it was not made, and is not offered again.
      execution = {
        status: 'failed',
        awsError: {
          code: 'ExecutionFailed',
          message: 'Countersign failed before making the call; the call was not made.',
        },
        masked: [],
        startedAt,
        at: clock.now().toISOString(),
      };
    }
    // The result replaces the claim written above (its version), without reading it again; if
    // anything changed it in between, the general path re-reads.
    const event = `executed: ${execution.status}`;
    const draft: AccessRequest = {
      ...request,
      execution,
      updatedAt: execution.at ?? startedAt,
      version: request.version + 1,
    };
    const next = { ...draft, history: appendHistory(request.history ?? [], draft, event, draft.updatedAt) };
    try {
      await store.replace(next, { expectedVersion: request.version, from: ['EXECUTED'] });
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
      await changeRequest(this.deps, requestId, (current) =>
        current.execution?.status !== 'running' || current.execution.startedAt !== startedAt
          ? undefined
          : { patch: { execution }, event },
      );
    }
    return execution;
  }

  private async run(request: AccessRequest): Promise<Execution> {
    const { executor, store, clock, masking } = this.deps;
    const call = request.call!;
    const grant = request.grant!;
    const startedAt = request.execution!.startedAt;
    const now = clock.now();
    const failed = (awsError: { code: string; message: string }): Execution => ({
      status: 'failed',
      awsError,
      masked: [],
      startedAt,
      at: clock.now().toISOString(),
    });
    // What runs must be what was approved: the stored input must still hash to the approved hash.
    if (inputSha256(call.input) !== call.inputSha256) {
      return failed({
        code: 'InputChanged',
        message: 'The stored input no longer matches the approved input hash; the call was not made.',
      });
    }
    const notAfter = new Date(
      Math.min(Date.parse(grant.notAfter), now.getTime() + CALL_WINDOW_SECONDS * 1000),
    );
    const [action] = grant.actions;
    const policy = buildSessionPolicy({ actions: [action!], resource: grant.resource, notAfter });
    let minted: Awaited<ReturnType<typeof mintSession>>;
    try {
      minted = await mintSession(this.deps.minter, request, {
        policy: policy.json,
        durationSeconds: MIN_SESSION_SECONDS,
        now,
      });
    } catch (error) {
      // No call was made. The approval is spent all the same: executing is once, whatever happens.
      return failed({
        code: 'SessionNotMinted',
        message: `No session could be minted for the call (${(error as Error).name ?? 'error'}); the call was not made.`,
      });
    }
    const { credentials, record } = minted;
    // Recorded while the call is made (the credentials never leave this function): the record links
    // the call's CloudTrail event to the request; the execution carries the key id in any case.
    const recorded = recordSession(store, record).catch(() => undefined);

    const region = regionOf(grant.resource);
    let outcome: CallOutcome;
    try {
      outcome = await executor.execute({
        operation: call.operation,
        input: call.input,
        ...(region ? { region } : {}),
        credentials,
      });
    } catch {
      // Not an answer from AWS (a timeout, a reset connection): the call may or may not have happened.
      outcome = {
        ok: false,
        awsError: {
          code: 'OutcomeUnknown',
          message: 'The call was sent but no answer came back; it may or may not have taken effect.',
        },
      };
    }
    await recorded;
    const at = clock.now().toISOString();
    const base = { masked: [] as string[], accessKeyId: record.accessKeyId, startedAt, at };
    if (!outcome.ok) {
      // AWS error messages can quote data (a condition's item, a key): masked like any output.
      const message = maskText(outcome.awsError.message.slice(0, 1000), masking).text;
      return { ...base, status: 'failed', awsError: { code: outcome.awsError.code.slice(0, 100), message } };
    }
    const masked = maskValue(outcome.output, masking);
    const json = canonicalJson(masked.value);
    const stored = boundOutput(masked.value, json);
    return {
      ...base,
      status: 'succeeded',
      ...stored,
      masked: masked.masked,
      outputSha256: sha256Hex(json),
    };
  }
}

/**
 * The masked output; larger than MAX_OUTPUT_CHARS, the start of its JSON text, flagged; nested
 * deeper than MAX_OUTPUT_DEPTH (the store keeps maps at most 32 levels deep, inside the request),
 * its JSON text whole.
 */
function boundOutput(value: unknown, json: string): { output: unknown; outputTruncated?: true } {
  if (json.length > MAX_OUTPUT_CHARS)
    return { output: json.slice(0, MAX_OUTPUT_CHARS), outputTruncated: true };
  if (depth(value) > MAX_OUTPUT_DEPTH) return { output: json };
  return { output: value };
}

/** Outputs nested deeper than this are stored and returned as their JSON text. */
export const MAX_OUTPUT_DEPTH = 16;

function depth(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  let deepest = 0;
  for (const item of Object.values(value)) deepest = Math.max(deepest, depth(item));
  return deepest + 1;
}

function assertExecutable(request: AccessRequest, now: Date): void {
  if (request.execution || request.status === 'EXECUTED') {
    throw new AlreadyExecutedError(`The call of request ${request.id} was already executed; it runs once.`, {
      details: { executedAt: request.execution?.startedAt },
    });
  }
  assertClaimable(request, now);
}

function regionOf(arn: string): string | undefined {
  const region = arn.split(':')[3];
  return region ? region : undefined;
}
