import type { CfnTemplate } from './template-helpers.js';

/**
 * A function's `Environment.Variables` as the template gives them, with every intrinsic resolved by
 * `resolve` (a Ref's logical id, or `Logical.Attr` for a GetAtt). A small stand-in, for these tests
 * only, for what the local assembly does for real: the point is to run a bundle with exactly the
 * variables its template declares, no more.
 */
export function templateEnvironment(
  template: CfnTemplate & { Parameters?: Record<string, { Default?: string }> },
  functionLogicalId: string,
  resolve: (ref: string) => string | undefined = () => undefined,
): Record<string, string> {
  const fn = template.Resources[functionLogicalId];
  if (fn?.Type !== 'AWS::Lambda::Function') throw new Error(`${functionLogicalId} is not a function`);
  const variables = ((fn.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)
    ?.Variables ?? {}) as Record<string, unknown>;
  const value = (v: unknown): string => {
    if (typeof v === 'string') return v;
    if (typeof v !== 'object' || v === null) throw new Error(`unexpected value ${JSON.stringify(v)}`);
    const o = v as Record<string, unknown>;
    if (typeof o.Ref === 'string') {
      const given = resolve(o.Ref);
      if (given !== undefined) return given;
      const parameter = template.Parameters?.[o.Ref];
      if (parameter) return parameter.Default ?? '';
      if (o.Ref === 'AWS::AccountId') return '123456789012';
      if (o.Ref === 'AWS::Region') return 'eu-west-1';
      if (o.Ref === 'AWS::Partition') return 'aws';
      if (o.Ref === 'AWS::StackName') return 'Countersign';
      if (o.Ref === 'AWS::URLSuffix') return 'amazonaws.com';
      if (!template.Resources[o.Ref]) throw new Error(`Ref to unknown ${o.Ref}`);
      // Secrets Manager's Ref is the secret's ARN (code splits it).
      if (template.Resources[o.Ref]?.Type === 'AWS::SecretsManager::Secret')
        return `arn:aws:secretsmanager:eu-west-1:123456789012:secret:fake-${o.Ref}-AbCdEf`;
      if (template.Resources[o.Ref]?.Type === 'AWS::StepFunctions::StateMachine')
        return `arn:aws:states:eu-west-1:123456789012:stateMachine:fake-${o.Ref}`;
      return `fake-${o.Ref}`;
    }
    if (Array.isArray(o['Fn::GetAtt'])) {
      const [id, attr] = o['Fn::GetAtt'] as [string, string];
      const given = resolve(`${id}.${attr}`);
      if (given !== undefined) return given;
      // An ARN-shaped stand-in where code parses the ARN (the linker's MINTING_ROLE_ARN, a key ARN).
      const type = template.Resources[id]?.Type;
      if (attr === 'Arn' && type === 'AWS::IAM::Role') return `arn:aws:iam::123456789012:role/fake-${id}`;
      if (attr === 'Arn' && type === 'AWS::KMS::Key')
        return 'arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-4000-8000-000000000000';
      if (attr === 'Arn') {
        const service = String(type).split('::')[1]?.toLowerCase() ?? 'fake';
        return `arn:aws:${service}:eu-west-1:123456789012:fake:${id}`;
      }
      return `fake-${id}-${attr}`;
    }
    if (Array.isArray(o['Fn::Join'])) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map(value).join(sep);
    }
    if (Array.isArray(o['Fn::Split'])) {
      const [sep, source] = o['Fn::Split'] as [string, unknown];
      return String(value(source)).split(sep) as unknown as string;
    }
    if (Array.isArray(o['Fn::Select'])) {
      const [index, list] = o['Fn::Select'] as [number, unknown];
      const items = value(list) as unknown as string[];
      return String(Array.isArray(items) ? (items[Number(index)] ?? '') : '');
    }
    throw new Error(`unsupported intrinsic ${JSON.stringify(v)}`);
  };
  return Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, value(v)]));
}
