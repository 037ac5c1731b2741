import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { TABLE_DESIGN } from '../../lambdas/adapters/table-design.js';

export interface CountersignTableProps {
  /**
   * A customer-managed key for the table. The evidence records are the product, so some operators
   * want to own the key that protects them (and its key policy and audit trail).
   * @default - an AWS-managed key (`alias/aws/dynamodb`)
   */
  readonly encryptionKey?: kms.IKey;
}

// Exactly the calls the adapters make (lambdas/adapters/dynamodb-*.ts): no BatchGetItem and no
// ConditionCheckItem, which nothing sends.
const READ_ACTIONS = ['dynamodb:GetItem', 'dynamodb:Query'];
// Transactions need no action of their own: IAM checks each item's Put/Update/Delete.
const WRITE_ACTIONS = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
];

/**
 * The single table of `lambdas/adapters/table-design.ts`. Its grants never include `dynamodb:Scan`
 * (reports query the indexes; DESIGN.md §4) and name each index instead of `index/*`.
 */
export class CountersignTable extends Construct {
  public readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: CountersignTableProps = {}) {
    super(scope, id);
    const { partitionKey, sortKey, ttlAttribute, indexes } = TABLE_DESIGN;
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: ttlAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      // Evidence outlives the stack: deleting the stack must never delete who-approved-what.
      removalPolicy: RemovalPolicy.RETAIN,
      ...(props.encryptionKey
        ? { encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED, encryptionKey: props.encryptionKey }
        : { encryption: dynamodb.TableEncryption.AWS_MANAGED }),
    });
    for (const [indexName, keys] of Object.entries(indexes)) {
      this.table.addGlobalSecondaryIndex({
        indexName,
        partitionKey: { name: keys.partitionKey, type: dynamodb.AttributeType.STRING },
        sortKey: { name: keys.sortKey, type: dynamodb.AttributeType.STRING },
        projectionType: dynamodb.ProjectionType.ALL,
      });
    }
  }

  /** Each index's ARN, named one by one. */
  private indexArns(): string[] {
    return Object.keys(TABLE_DESIGN.indexes).map((name) => `${this.table.tableArn}/index/${name}`);
  }

  /** Item reads and index queries: no Scan. */
  grantRead(grantee: iam.IGrantable): iam.Grant {
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: READ_ACTIONS,
      resourceArns: [this.table.tableArn],
    });
    grant.combine(this.grantQueryIndexes(grantee));
    this.table.encryptionKey?.grantDecrypt(grantee);
    return grant;
  }

  /** Item reads, index queries and item writes: no Scan, no table management. */
  grantReadWrite(grantee: iam.IGrantable): iam.Grant {
    const grant = this.grantRead(grantee);
    grant.combine(
      iam.Grant.addToPrincipal({ grantee, actions: WRITE_ACTIONS, resourceArns: [this.table.tableArn] }),
    );
    this.table.encryptionKey?.grantEncryptDecrypt(grantee);
    return grant;
  }

  /** `dynamodb:Query` on each named index. */
  grantQueryIndexes(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['dynamodb:Query'], resourceArns: this.indexArns() });
  }
}
