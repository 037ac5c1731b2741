import { APPROVE_BODY, type BenchStack, inBatches } from './lib/bench-stack.js';

/**
 * From a signed Approve click to the agent holding credentials, through the assembly: the agent
 * long-polls `GET /v1/requests/{id}?waitSeconds=20` from the moment it asked, an approver clicks
 * some time later (1–3 s, so the poll has settled into its steady cadence, as it has when a human
 * decides), and the agent claims credentials as soon as its poll answers APPROVED. The claim mints
 * a session through the local STS (AssumeRole with the session policy, signed by claim-credentials'
 * execution role, IAM-evaluated).
 */
export interface ClickToCredentialsSample {
  /** Click sent → the long-poll answered APPROVED. */
  seenMs: number;
  /** Click sent → the credentials claim answered 200 (the figure the goal is about). */
  credentialsMs: number;
  clickMs: number;
  claimMs: number;
  /** GET requests the agent made before it saw APPROVED. */
  polls: number;
}

/** Deterministic spread of "human" delays over [1, 3) s. */
const humanDelayMs = (i: number) => 1000 + ((i * 733) % 2000);

export async function measureClickToCredentials(
  stack: BenchStack,
  options: { samples: number; concurrency: number },
): Promise<ClickToCredentialsSample[]> {
  return inBatches(options.samples, options.concurrency, async (i) => {
    // Staggered, so concurrent flows do not click at the same instant.
    await new Promise((r) => setTimeout(r, (i % options.concurrency) * 250));
    const token = await stack.agent(`c2c-agent-${i}`);
    const created = await stack.http.call('POST', '/v1/requests', { token, body: APPROVE_BODY });
    if (created.status !== 201) throw new Error(`create: ${created.status}`);
    const id = String(created.body.id);
    const pollStarted = performance.now();
    let polls = 0;
    let seenAt = 0;
    const approved = (async () => {
      for (;;) {
        polls += 1;
        const answer = await stack.http.call('GET', `/v1/requests/${id}?waitSeconds=20`, { token });
        if (answer.status !== 200) throw new Error(`poll: ${answer.status} ${JSON.stringify(answer.body)}`);
        if (answer.body.status === 'APPROVED') {
          seenAt = performance.now();
          return;
        }
        if (answer.body.status !== 'PENDING') throw new Error(`request ended ${String(answer.body.status)}`);
      }
    })();
    await stack.waitShown(id, 60_000, 20);
    const wait = humanDelayMs(i) - (performance.now() - pollStarted);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const clickedAt = performance.now();
    const click = await stack.click(id);
    if (click.status !== 200 || click.body.outcome !== 'approved') {
      throw new Error(`click: ${click.status} ${JSON.stringify(click.body)}`);
    }
    await approved;
    const claim = await stack.http.call('POST', `/v1/requests/${id}/credentials`, { token });
    if (claim.status !== 200 || typeof claim.body.AccessKeyId !== 'string') {
      throw new Error(`claim: ${claim.status} ${JSON.stringify(claim.body)}`);
    }
    const doneAt = performance.now();
    return {
      seenMs: seenAt - clickedAt,
      credentialsMs: doneAt - clickedAt,
      clickMs: click.ms,
      claimMs: claim.ms,
      polls,
    };
  });
}
