import { Validations } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

/**
 * The Slack app's credentials, JSON `{"botToken","signingSecret"}`, filled in by the operator after
 * deploying (docs/deploy.md). CloudFormation cannot create a secret without a value, so until then
 * `botToken` is empty (Slack refuses to post) and `signingSecret` is a random string nobody knows
 * (every interaction fails its signature check): an unfilled secret fails closed, never open.
 * The operator's values are kept across deploys: CloudFormation regenerates only if this
 * construct's generation settings change.
 */
export class SlackSecret extends Construct {
  public readonly secret: secretsmanager.Secret;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.secret = new secretsmanager.Secret(this, 'Secret', {
      description:
        'Countersign Slack app: JSON {"botToken":"xoxb-…","signingSecret":"…"} — fill in after deploying',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ botToken: '' }),
        generateStringKey: 'signingSecret',
        passwordLength: 64,
        excludePunctuation: true,
      },
    });
    Validations.of(this.secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Slack issues the bot token and signing secret; they are rotated in the Slack app settings and pasted here, so there is no rotation Lambda to run.',
    });
  }
}
