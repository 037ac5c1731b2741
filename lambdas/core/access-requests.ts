import { createHash } from 'node:crypto';
import { agentKey } from './access.js';
import type { CountersignConfig } from './config.js';
import {
  ConditionFailedError,
  DependencyError,
  FailClosedError,
  ForbiddenError,
  IdempotencyConflictError,
  RateLimitedError,
  ValidationError,
} from './errors.js';
import { computeGrant } from './grants.js';
import { appendHistory, canonicalJson } from './history.js';
import { newRequestId } from './ids.js';
import type { AccessRequest, Caller, Decision, Requester } from './model.js';
import { decidePolicy } from './never-grantable.js';
import { grantDurationSeconds } from './policy.js';
import type { ApprovalWorkflow, Clock, RequestStore } from './ports.js';
import { parseStrictJson } from './strict-json.js';
import { changeRequest } from './transitions.js';
import { validateAccessRequest } from './validate-request.js';

export interface AccessRequestDeps {
  store: RequestStore;
  workflow: ApprovalWorkflow;
  clock: Clock;
  config: CountersignConfig;
  /** ARN patterns of the deployment's own resources (COUNTERSIGN_OWN_RESOURCES): never grantable. */
  ownResources?: readonly string[];
}

const IDEMPOTENCY_KEY = /^[A-Za-z0-9_.:-]{1,128}$/;

/** Creating access requests: `POST /v1/requests`. */
export class AccessRequests {
  constructor(private readonly deps: AccessRequestDeps) {}

  async create(
    caller: Caller,
    rawBody: string,
    idempotencyKey?: string,
  ): Promise<{ request: AccessRequest; created: boolean }> {
    if (!caller.roles.has('agent')) throw new ForbiddenError('Only agents may request access.');
    const { store, clock, config } = this.deps;
    const now = clock.now();
    const agent = agentKey(caller);

    const minute = now.toISOString().slice(0, 16);
    const count = await store.countRequest(agent, minute, Math.floor(now.getTime() / 1000) + 120);
    if (count > config.limits.requestsPerMinutePerAgent) {
      throw new RateLimitedError(
        `More than ${config.limits.requestsPerMinutePerAgent} requests in a minute; slow down and retry.`,
      );
    }

    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw new ValidationError(
        'Idempotency-Key',
        'Idempotency-Key must be 1-128 characters of A-Z a-z 0-9 _ . : -',
      );
    }
    const body = parseStrictJson(rawBody);
    const valid = validateAccessRequest(body);
    const bodyHash = createHash('sha256').update(canonicalJson(body)).digest('hex');

    if (idempotencyKey !== undefined) {
      const replay = await this.replay(agent, idempotencyKey, bodyHash);
      if (replay) return { request: replay, created: false };
    }

    const requester: Requester = { sub: caller.sub, issuer: caller.issuer, groups: [...caller.groups] };
    // Never-grantable requests (never-grantable.ts) are denied before any rule is read.
    const policy = decidePolicy(
      config,
      {
        actions: valid.actions,
        resource: valid.resource,
        accessLevels: valid.accessLevels,
        actionAccessLevels: valid.actionAccessLevels,
        requester,
      },
      this.deps.ownResources,
    );
    const at = now.toISOString();
    let request: AccessRequest = {
      id: newRequestId(),
      status: 'PENDING',
      requester,
      resource: valid.resource,
      actions: valid.actions,
      reason: valid.reason,
      context: valid.context,
      durationSeconds: grantDurationSeconds(valid.durationSeconds, policy),
      createdAt: at,
      updatedAt: at,
      policy,
      decisions: [],
      version: 1,
      ...(valid.call ? { call: valid.call } : {}),
    };
    request = this.decideByPolicy(request, now);
    request = { ...request, history: appendHistory([], request, `created:${request.status}`, at) };

    try {
      await store.create(
        request,
        idempotencyKey === undefined ? undefined : { agentKey: agent, key: idempotencyKey, bodyHash },
      );
    } catch (error) {
      // Two retries with one key raced; the other one stored first. Answer with its request.
      if (error instanceof ConditionFailedError && idempotencyKey !== undefined) {
        const replay = await this.replay(agent, idempotencyKey, bodyHash);
        if (replay) return { request: replay, created: false };
      }
      throw error;
    }

    if (request.status === 'PENDING') {
      await this.startWorkflow(
        request,
        idempotencyKey === undefined ? undefined : { agentKey: agent, key: idempotencyKey },
      );
    }
    return { request, created: true };
  }

  /**
   * Settles what the policy can settle without humans. A grant that could not be minted (no target
   * role, session policy over the STS limit) is refused now, not after people approved it.
   */
  private decideByPolicy(request: AccessRequest, now: Date): AccessRequest {
    const at = now.toISOString();
    const { policy } = request;
    if (policy.effect === 'deny') {
      return {
        ...request,
        status: 'DENIED',
        outcome: { reason: policy.reason ?? `Denied by policy rule ${policy.rule}.`, at },
      };
    }
    if (policy.mode === 'call' && !request.call) {
      // For these rules no agent ever holds AWS credentials: Countersign makes the one call itself.
      return {
        ...request,
        status: 'DENIED',
        outcome: {
          reason: `Policy rule ${policy.rule} grants only exact calls (mode: call); send the call's input as "call".`,
          at,
        },
      };
    }
    let grant: ReturnType<typeof computeGrant>;
    try {
      grant = computeGrant(this.deps.config, request, now);
    } catch (error) {
      if (!(error instanceof FailClosedError)) throw error;
      return { ...request, status: 'DENIED', outcome: { reason: `Refused: ${error.message}`, at } };
    }
    if (policy.effect === 'approve') return request;
    const decision: Decision = {
      approver: `policy:${policy.rule}`,
      decision: 'approve',
      channel: 'policy',
      at,
    };
    return { ...request, status: 'APPROVED', decisions: [decision], grant };
  }

  /**
   * Starts the approval workflow. If that fails the request is closed as DENIED (it can never be
   * decided without its workflow), its Idempotency-Key is freed, and the agent gets a 503: the retry
   * it makes — the same body under the same key, as the CLI does — creates a new request instead of
   * being answered with the closed one.
   */
  private async startWorkflow(
    request: AccessRequest,
    idempotency: { agentKey: string; key: string } | undefined,
  ): Promise<void> {
    try {
      await this.deps.workflow.start(request);
    } catch (error) {
      try {
        await changeRequest(this.deps, request.id, (current, now) =>
          current.status !== 'PENDING'
            ? undefined
            : {
                patch: {
                  status: 'DENIED',
                  outcome: {
                    reason: 'The approval workflow could not be started; nothing was granted.',
                    at: now.toISOString(),
                  },
                },
                event: 'workflow-start-failed',
              },
        );
        // Only once the request is closed: a key freed from a still-PENDING request would leave
        // two live requests for one retry.
        if (idempotency)
          await this.deps.store.releaseIdempotency(idempotency.agentKey, idempotency.key, request.id);
      } catch {
        // The store is failing too. The request is still PENDING (or its key still names the closed
        // request), but effectiveStatus times it out after approvalTimeoutSeconds, so nobody can ever
        // approve it without a workflow.
      }
      throw new DependencyError(
        'The approval workflow could not be started, so the request was closed and nothing was granted. Retry; the same Idempotency-Key may be reused.',
        { details: { requestId: request.id }, cause: error },
      );
    }
  }

  private async replay(agent: string, key: string, bodyHash: string): Promise<AccessRequest | undefined> {
    const found = await this.deps.store.findIdempotent(agent, key);
    if (!found) return undefined;
    if (found.bodyHash !== bodyHash) {
      throw new IdempotencyConflictError('This Idempotency-Key was used with a different request body.', {
        details: { requestId: found.requestId },
      });
    }
    return this.deps.store.get(found.requestId);
  }
}
