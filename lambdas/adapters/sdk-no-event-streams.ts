/**
 * Stands in for `@smithy/core/event-streams` in the Lambda bundles (see lib/bundling.ts). The SDK
 * loads it on demand, only for operations that stream events (Bedrock, Transcribe, S3 Select…);
 * none of the DynamoDB, Step Functions, STS, IAM or Secrets Manager calls Countersign makes does,
 * so its 15 KB never run. Should one ever be added, it fails loudly here instead of half-working.
 */
function refuse(): never {
  throw new Error('Event stream operations are not bundled into Countersign Lambdas (lib/bundling.ts).');
}

export class EventStreamSerde {
  constructor() {
    refuse();
  }
}

export const eventStreamSerdeProvider = (): never => refuse();
