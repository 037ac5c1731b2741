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
      return `fake-${o.Ref}`;
    }
    if (Array.isArray(o['Fn::GetAtt'])) {
      const [id, attr] = o['Fn::GetAtt'] as [string, string];
      return resolve(`${id}.${attr}`) ?? `fake-${id}-${attr}`;
    }
    if (Array.isArray(o['Fn::Join'])) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map(value).join(sep);
    }
    throw new Error(`unsupported intrinsic ${JSON.stringify(v)}`);
  };
  return Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, value(v)]));
}
