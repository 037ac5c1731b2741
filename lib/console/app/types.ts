/** The request object of DESIGN.md §4, as far as the console reads it (fields may be added). */
export interface Decision {
  approver: string;
  decision: 'approve' | 'deny';
  channel: string;
  at: string;
  comment?: string;
  reviewSeconds?: number;
}

export interface RequestObject {
  id: string;
  status: string;
  requester: { sub: string; issuer: string };
  resource: string;
  actions: string[];
  reason: string;
  context?: Record<string, unknown>;
  durationSeconds?: number;
  createdAt: string;
  updatedAt: string;
  shownAt?: string;
  policy: {
    rule: string;
    effect: string;
    accessLevels?: string[];
    quorum?: number;
    approvers?: string[];
    approvalTimeoutSeconds?: number;
    minReviewSeconds?: number;
  };
  decisions: Decision[];
  grant?: {
    resource: string;
    actions: string[];
    notAfter: string;
    roleArn?: string;
    sessionPolicy?: unknown;
  };
  call?: { input: unknown; inputSha256: string };
  outcome?: unknown;
}

export interface ActivityEvent {
  eventId: string;
  eventTime: string;
  eventName: string;
  eventSource: string;
  resources?: string[];
  errorCode?: string;
  accessKeyId?: string;
  linkedBy?: string;
  minted?: boolean;
}

export interface Finding {
  type: string;
  detail: string;
}

export interface Integrity {
  valid: boolean;
  problem?: string;
}

export interface EvidenceRecord {
  request: RequestObject;
  evidence: {
    requester: { sub: string; issuer: string; groups: string[]; onBehalfOf?: string };
    requested: {
      resource: string;
      actions: string[];
      accessLevels: string[];
      durationSeconds?: number;
      createdAt: string;
    };
    justification: { reason: string; context: Record<string, unknown> };
    decision: { shownAt?: string; decisions: Decision[]; refusals?: Array<Record<string, unknown>> };
    grant: RequestObject['grant'] | null;
    /** One page of the linked events; `recorded.events` counts all of them. */
    activity: ActivityEvent[];
    recorded?: { sessions: number; events: number };
  };
  facts?: Record<string, string>;
  findings: Finding[];
  complete: boolean;
  integrity?: Integrity;
  /** The next page of sessions and events; null on the last. */
  nextCursor?: string | null;
}

export interface EvidenceSummary {
  request: RequestObject;
  findings: Finding[];
  complete: boolean;
  integrity?: Integrity;
}

export interface Page<T> {
  items: T[];
  nextCursor?: string | null;
}

export interface AgentReview {
  agent: string;
  requests: number;
  approved: number;
  denied: number;
  timedOut: number;
  medianDecisionSeconds: number | null;
  rubberStamps: number;
  unusedGrants: number;
  resourcesTouched: string[];
}
