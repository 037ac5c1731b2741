import { RemovalPolicy } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';

export interface HistoryKeyProps {
  /**
   * Functions that write evidence (state changes, minted sessions, linked events): they get
   * `kms:GenerateMac` and `kms:VerifyMac` on the key and `HISTORY_KEY_ID` in their environment.
   */
  readonly writers: ReadonlyArray<{ readonly function: lambda.Function; readonly role: iam.IRole }>;
  /** Functions that only check evidence (reports): `kms:VerifyMac` and `HISTORY_KEY_ID`. */
  readonly verifiers: ReadonlyArray<{ readonly function: lambda.Function; readonly role: iam.IRole }>;
  /** @default RemovalPolicy.RETAIN — without the key, no stored history can be verified again */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The history key (issue 12, item 3): a KMS HMAC key (HMAC_256, usage GENERATE_VERIFY_MAC) whose
 * material never leaves KMS. The handlers MAC every history entry, minted session, linked event and
 * the activity counters with it (lambdas/adapters/kms-mac.ts), so someone with write access to the
 * table cannot rewrite the evidence and recompute the chain. Only the listed functions may use it.
 */
export class HistoryKey extends Construct {
  public readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: HistoryKeyProps) {
    super(scope, id);
    this.key = new kms.Key(this, 'Key', {
      description: 'Countersign: keyed MAC over the evidence history (GenerateMac/VerifyMac)',
      keySpec: kms.KeySpec.HMAC_256,
      keyUsage: kms.KeyUsage.GENERATE_VERIFY_MAC,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    for (const writer of props.writers) {
      this.key.grant(writer.role, 'kms:GenerateMac', 'kms:VerifyMac');
      writer.function.addEnvironment('HISTORY_KEY_ID', this.key.keyArn);
    }
    for (const verifier of props.verifiers) {
      this.key.grant(verifier.role, 'kms:VerifyMac');
      verifier.function.addEnvironment('HISTORY_KEY_ID', this.key.keyArn);
    }
  }
}
