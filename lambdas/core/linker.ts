import { type CloudTrailFacts, extractRecords, parseRecord, roleKey } from './cloudtrail.js';
import type { AccessRequest, LinkedEvent, MintedSession } from './model.js';
import type { EventStore, RequestStore } from './ports.js';
import { sanitizeSourceIdentity } from './session-policy.js';

/**
 * Joins CloudTrail events to the requests whose sessions made them (fact 6 of DESIGN.md §1).
 *
 * - First by who made the call: `userIdentity.accessKeyId`, through the `AKID#` item written when
 *   the session was minted. Whatever a grant's session does is its request's activity — an
 *   `AssumeRole` it makes (role chaining, or probing another role) included, whatever session name
 *   it asks for; a failed one is denied activity like any other failed call.
 * - Then Countersign's own minting: an `AssumeRole` made by the minting role (the claim function's
 *   role, `mintingRoleArns`) is joined by `requestParameters.roleSessionName`, since Countersign
 *   names every session after its request id (credentials.ts). Nobody else's AssumeRole is filed
 *   under the request it names.
 * - Past the `AKID#` item's TTL (CloudTrail replayed from S3), the request named by the session
 *   name at the end of `userIdentity.arn` is asked whether it minted that key.
 * - A call whose key Countersign never minted but which runs under a request's session name is still
 *   linked — marked `minted: false`, which is UNLINKED_ACTIVITY — because someone acting under a
 *   request's name is exactly what a reviewer must see. Its `sourceIdentity` (the agent identity,
 *   the same for all of an agent's requests) only corroborates that link, never makes one alone.
 * - Everything else is ignored and counted.
 *
 * Nothing depends on arrival order: each event is linked from what was stored at minting time, and
 * each `eventID` is stored once, so late, repeated and out-of-order deliveries converge.
 */

export type IgnoreReason =
  /** Not a CloudTrail API call event (another EventBridge detail-type). */
  | 'not-cloudtrail'
  /** A record without the fields linking needs. */
  | 'malformed'
  /** No access key, session name or role session name that belongs to Countersign. */
  | 'not-countersign'
  /** Shaped like a Countersign session but naming a request that does not exist. */
  | 'unknown-request';

export interface LinkReport {
  received: number;
  stored: number;
  duplicates: number;
  ignored: number;
  ignoredBy: Partial<Record<IgnoreReason, number>>;
}

export type LinkOutcome =
  | { result: 'stored' | 'duplicate'; requestId: string; linkedBy: LinkedEvent['linkedBy']; minted?: boolean }
  | { result: 'ignored'; reason: IgnoreReason };

export interface LinkerDeps {
  events: EventStore;
  requests: Pick<RequestStore, 'get' | 'listSessions'>;
  /**
   * The role(s) whose AssumeRole calls are Countersign minting sessions (the claim function's
   * role). Without one, no AssumeRole is ever joined by the session name it asks for.
   */
  mintingRoleArns: readonly string[];
}

/** Reads shared by the records of one batch (a CloudTrail file names the same request many times). */
class BatchLookups {
  private readonly requests = new Map<string, Promise<AccessRequest | undefined>>();
  private readonly sessions = new Map<string, Promise<MintedSession[]>>();
  constructor(private readonly deps: LinkerDeps) {}
  request(id: string): Promise<AccessRequest | undefined> {
    const known = this.requests.get(id);
    if (known) return known;
    const found = this.deps.requests.get(id, { consistent: false });
    this.requests.set(id, found);
    return found;
  }

  /** Did Countersign record minting `accessKeyId` for `requestId`? The AKID item, else the sessions. */
  async minted(requestId: string, accessKeyId: string): Promise<boolean> {
    if ((await this.deps.events.findRequestByAccessKey(accessKeyId)) === requestId) return true;
    let list = this.sessions.get(requestId);
    if (!list) {
      list = this.deps.requests.listSessions(requestId);
      this.sessions.set(requestId, list);
    }
    return (await list).some((s) => s.accessKeyId === accessKeyId);
  }
}

export class CloudTrailLinker {
  private readonly mintingRoles: ReadonlySet<string>;

  constructor(private readonly deps: LinkerDeps) {
    this.mintingRoles = new Set(
      deps.mintingRoleArns.map((arn) => {
        const key = roleKey(arn);
        // Fail closed at start: a misspelt ARN would otherwise silently drop every minting record.
        if (!key) throw new Error(`mintingRoleArns: ${arn} is not an IAM role ARN`);
        return key;
      }),
    );
  }

  /**
   * Links every record of an EventBridge event, a raw record or `{ "Records": [...] }`. A store
   * failure is thrown (the delivery is retried; what was stored is found as a duplicate).
   */
  async link(input: unknown): Promise<LinkReport> {
    const { records, skipped } = extractRecords(input);
    const report: LinkReport = {
      received: records.length + skipped,
      stored: 0,
      duplicates: 0,
      ignored: 0,
      ignoredBy: {},
    };
    const ignore = (reason: IgnoreReason) => {
      report.ignored += 1;
      report.ignoredBy[reason] = (report.ignoredBy[reason] ?? 0) + 1;
    };
    for (let i = 0; i < skipped; i++) ignore('not-cloudtrail');
    const lookups = new BatchLookups(this.deps);
    for (const record of records) {
      const outcome = await this.linkRecord(record, lookups);
      if (outcome.result === 'ignored') ignore(outcome.reason);
      else if (outcome.result === 'stored') report.stored += 1;
      else report.duplicates += 1;
    }
    return report;
  }

  async linkRecord(record: unknown, lookups = new BatchLookups(this.deps)): Promise<LinkOutcome> {
    const parsed = parseRecord(record);
    if (!parsed.ok) return { result: 'ignored', reason: 'malformed' };
    const link = await this.resolve(parsed.facts, lookups);
    if ('reason' in link) return { result: 'ignored', reason: link.reason };
    const event = toLinkedEvent(parsed.facts, link);
    const result = await this.deps.events.putEvent(event);
    return { result, requestId: link.requestId, linkedBy: link.linkedBy, ...optionalMinted(link.minted) };
  }

  private async resolve(
    facts: CloudTrailFacts,
    lookups: BatchLookups,
  ): Promise<Link | { reason: IgnoreReason }> {
    const { accessKeyId, sessionName, sourceIdentity, roleKey: callerRole } = facts.identity;
    // Who made the call comes first: a grant's session's own AssumeRole is its own activity.
    if (accessKeyId) {
      const requestId = await this.deps.events.findRequestByAccessKey(accessKeyId);
      if (requestId) return { requestId, linkedBy: 'accessKeyId', accessKeyId, minted: true };
    }

    if (facts.assumeRole && callerRole !== undefined && this.mintingRoles.has(callerRole)) {
      const requestId = facts.assumeRole.roleSessionName;
      if (!requestId) return { reason: 'not-countersign' };
      if (!(await lookups.request(requestId))) return { reason: 'unknown-request' };
      const key = facts.assumeRole.mintedAccessKeyId;
      // A failed AssumeRole minted nothing: it is on record, but not unlinked activity.
      return {
        requestId,
        linkedBy: 'roleSessionName',
        minting: true,
        ...(key ? { accessKeyId: key, minted: await lookups.minted(requestId, key) } : {}),
      };
    }

    if (!sessionName) return { reason: 'not-countersign' };
    const request = await lookups.request(sessionName);
    if (!request) return { reason: 'unknown-request' };
    if (accessKeyId && (await lookups.minted(sessionName, accessKeyId))) {
      return { requestId: sessionName, linkedBy: 'accessKeyId', accessKeyId, minted: true };
    }
    const corroborated =
      sourceIdentity !== undefined && sourceIdentity === sanitizeSourceIdentity(request.requester.sub);
    return {
      requestId: sessionName,
      linkedBy: corroborated ? 'sourceIdentity' : 'roleSessionName',
      ...(accessKeyId ? { accessKeyId } : {}),
      minted: false,
    };
  }
}

interface Link {
  requestId: string;
  linkedBy: LinkedEvent['linkedBy'];
  accessKeyId?: string;
  minted?: boolean;
  /** Countersign's minting role made this AssumeRole. */
  minting?: boolean;
}

const optionalMinted = (minted: boolean | undefined) => (minted === undefined ? {} : { minted });

function toLinkedEvent(facts: CloudTrailFacts, link: Link): LinkedEvent {
  return {
    requestId: link.requestId,
    eventId: facts.eventId,
    eventTime: facts.eventTime,
    eventName: facts.eventName,
    eventSource: facts.eventSource,
    resources: facts.resources,
    linkedBy: link.linkedBy,
    ...(facts.awsRegion ? { awsRegion: facts.awsRegion } : {}),
    ...(facts.errorCode ? { errorCode: facts.errorCode } : {}),
    ...(facts.errorMessage ? { errorMessage: facts.errorMessage } : {}),
    ...(facts.sourceIpAddress ? { sourceIpAddress: facts.sourceIpAddress } : {}),
    ...(facts.userAgent ? { userAgent: facts.userAgent } : {}),
    ...(link.accessKeyId ? { accessKeyId: link.accessKeyId } : {}),
    ...optionalMinted(link.minted),
    ...(facts.assumeRole ? { minting: link.minting === true } : {}),
  };
}
