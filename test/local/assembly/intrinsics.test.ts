// biome-ignore-all lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub and Step Functions substitutions are written ${Name}
import { describe, expect, it } from 'vitest';
import {
  IntrinsicError,
  type ResolveContext,
  resolve,
  resolveDefinition,
  resolveEnvironment,
} from '../../../lib/local/assembly/intrinsics.js';
import { generatedName, physicalResources } from '../../../lib/local/assembly/physical-resources.js';
import type { AssemblyModel, CfnTemplate } from '../../../lib/local/assembly/template.js';

const ctx: ResolveContext = {
  resources: {
    Table: {
      type: 'AWS::DynamoDB::Table',
      ref: 'Countersign-Table',
      attributes: { Arn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/Countersign-Table' },
    },
    Fn: {
      type: 'AWS::Lambda::Function',
      ref: 'Countersign-Fn',
      attributes: { Arn: 'arn:aws:lambda:eu-west-1:123456789012:function:Countersign-Fn' },
    },
  },
  parameters: { Issuer: 'https://issuer.example', Zones: ['a', 'b'] },
  pseudo: {
    accountId: '123456789012',
    region: 'eu-west-1',
    partition: 'aws',
    stackName: 'Countersign',
    stackId:
      'arn:aws:cloudformation:eu-west-1:123456789012:stack/Countersign/0f0e0d0c-0000-0000-0000-000000000000',
    urlSuffix: 'amazonaws.com',
  },
  conditions: {
    IsIreland: { 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'eu-west-1'] },
    NotIreland: { 'Fn::Not': [{ Condition: 'IsIreland' }] },
    Both: { 'Fn::And': [{ Condition: 'IsIreland' }, { 'Fn::Equals': ['a', 'a'] }] },
    Either: { 'Fn::Or': [{ Condition: 'NotIreland' }, { 'Fn::Equals': ['a', 'b'] }] },
  },
};

describe('resolve', () => {
  it('resolves Ref to resources, parameters and pseudo parameters', () => {
    expect(resolve({ Ref: 'Table' }, ctx)).toBe('Countersign-Table');
    expect(resolve({ Ref: 'Issuer' }, ctx)).toBe('https://issuer.example');
    expect(resolve({ Ref: 'Zones' }, ctx)).toEqual(['a', 'b']);
    expect(resolve({ Ref: 'AWS::AccountId' }, ctx)).toBe('123456789012');
    expect(resolve({ Ref: 'AWS::Region' }, ctx)).toBe('eu-west-1');
    expect(resolve({ Ref: 'AWS::Partition' }, ctx)).toBe('aws');
    expect(resolve({ Ref: 'AWS::StackName' }, ctx)).toBe('Countersign');
    expect(resolve({ Ref: 'AWS::URLSuffix' }, ctx)).toBe('amazonaws.com');
  });

  it('resolves Fn::GetAtt in both forms', () => {
    expect(resolve({ 'Fn::GetAtt': ['Table', 'Arn'] }, ctx)).toBe(
      'arn:aws:dynamodb:eu-west-1:123456789012:table/Countersign-Table',
    );
    expect(resolve({ 'Fn::GetAtt': 'Fn.Arn' }, ctx)).toBe(
      'arn:aws:lambda:eu-west-1:123456789012:function:Countersign-Fn',
    );
  });

  it('resolves Fn::Join, Fn::Select, Fn::Split nested', () => {
    const stackId = { Ref: 'AWS::StackId' };
    expect(
      resolve(
        { 'Fn::Join': ['', ['/aws/states/', { 'Fn::Select': [2, { 'Fn::Split': ['/', stackId] }] }]] },
        ctx,
      ),
    ).toBe('/aws/states/0f0e0d0c-0000-0000-0000-000000000000');
    expect(resolve({ 'Fn::Join': [',', { Ref: 'Zones' }] }, ctx)).toBe('a,b');
  });

  it('resolves Fn::Sub in its string and list forms, with ${!Literal} kept literal', () => {
    expect(resolve({ 'Fn::Sub': 'arn:${AWS::Partition}:s3:::${Table}/${Fn.Arn}' }, ctx)).toBe(
      'arn:aws:s3:::Countersign-Table/arn:aws:lambda:eu-west-1:123456789012:function:Countersign-Fn',
    );
    expect(
      resolve(
        { 'Fn::Sub': ['${Greeting}, ${AWS::Region} ${!Literal}', { Greeting: { Ref: 'Issuer' } }] },
        ctx,
      ),
    ).toBe('https://issuer.example, eu-west-1 ${Literal}');
  });

  it('evaluates conditions and Fn::If, and AWS::NoValue removes the property', () => {
    expect(resolve({ 'Fn::If': ['IsIreland', 'yes', 'no'] }, ctx)).toBe('yes');
    expect(resolve({ 'Fn::If': ['NotIreland', 'yes', 'no'] }, ctx)).toBe('no');
    expect(resolve({ 'Fn::If': ['Both', 1, 2] }, ctx)).toBe(1);
    expect(resolve({ 'Fn::If': ['Either', 1, 2] }, ctx)).toBe(2);
    expect(
      resolve(
        { A: { 'Fn::If': ['NotIreland', 'x', { Ref: 'AWS::NoValue' }] }, B: ['k', { Ref: 'AWS::NoValue' }] },
        ctx,
      ),
    ).toEqual({ B: ['k'] });
  });

  it('fails closed on what it cannot resolve exactly', () => {
    expect(() => resolve({ Ref: 'Nope' }, ctx)).toThrow(IntrinsicError);
    expect(() => resolve({ Ref: 'Nope' }, ctx)).toThrow(/Nope/);
    expect(() => resolve({ 'Fn::GetAtt': ['Table', 'StreamArn'] }, ctx)).toThrow(
      /StreamArn of AWS::DynamoDB::Table/,
    );
    expect(() => resolve({ 'Fn::GetAtt': ['Ghost', 'Arn'] }, ctx)).toThrow(/Ghost/);
    expect(() => resolve({ 'Fn::ImportValue': 'SharedVpc' }, ctx)).toThrow(
      /Fn::ImportValue is not supported/,
    );
    expect(() => resolve({ 'Fn::GetAZs': '' }, ctx)).toThrow(/Fn::GetAZs/);
    expect(() => resolve({ 'Fn::If': ['Unknown', 1, 2] }, ctx)).toThrow(/Condition Unknown/);
    expect(() => resolve({ 'Fn::Select': [5, ['a']] }, ctx)).toThrow(/outside/);
    expect(() => resolve({ Ref: 'AWS::Unknown' }, ctx)).toThrow(/pseudo parameter/);
  });
});

/** A small template with the resource types the stack uses and one parameter. */
const template: CfnTemplate = {
  Parameters: {
    OidcIssuer: { Type: 'String', Default: 'https://token.actions.githubusercontent.com' },
    Mode: { Type: 'String', Default: 'a', AllowedValues: ['a', 'b'] },
    BootstrapVersion: {
      Type: 'AWS::SSM::Parameter::Value<String>',
      Default: '/cdk-bootstrap/hnb659fds/version',
    },
  },
  Conditions: { Never: { 'Fn::Equals': ['x', 'y'] } },
  Resources: {
    Table: { Type: 'AWS::DynamoDB::Table', Properties: {} },
    Role: { Type: 'AWS::IAM::Role', Properties: {} },
    NamedRole: {
      Type: 'AWS::IAM::Role',
      Properties: { RoleName: { 'Fn::Sub': 'countersign-${AWS::Region}' }, Path: '/service/' },
    },
    Fn: { Type: 'AWS::Lambda::Function', Properties: { Role: { 'Fn::GetAtt': ['Role', 'Arn'] } } },
    Machine: { Type: 'AWS::StepFunctions::StateMachine', Properties: {} },
    Secret: { Type: 'AWS::SecretsManager::Secret', Properties: {} },
    Queue: { Type: 'AWS::SQS::Queue', Properties: {} },
    Logs: { Type: 'AWS::Logs::LogGroup', Properties: {} },
    Rule: { Type: 'AWS::Events::Rule', Properties: {} },
    Key: { Type: 'AWS::KMS::Key', Properties: {} },
    Api: { Type: 'AWS::ApiGateway::RestApi', Properties: {} },
    Skipped: { Type: 'AWS::SQS::Queue', Condition: 'Never', Properties: {} },
    Exotic: { Type: 'AWS::EC2::VPC', Properties: {} },
  },
};
const model = {
  dir: '/nowhere',
  stackName: 'Countersign',
  template,
  functions: [],
  roles: [],
  routes: [],
  gatewayResponses: [],
  stateMachines: [],
  eventRules: [],
  secrets: [],
  parameters: {
    OidcIssuer: {
      name: 'OidcIssuer',
      type: 'String',
      default: 'https://token.actions.githubusercontent.com',
      noEcho: false,
    },
    Mode: { name: 'Mode', type: 'String', default: 'a', allowedValues: ['a', 'b'], noEcho: false },
    BootstrapVersion: {
      name: 'BootstrapVersion',
      type: 'AWS::SSM::Parameter::Value<String>',
      default: '/cdk-bootstrap/hnb659fds/version',
      noEcho: false,
    },
  },
} satisfies AssemblyModel;

describe('physicalResources', () => {
  const physical = physicalResources(model, {
    account: '123456789012',
    region: 'eu-west-1',
    parameters: { OidcIssuer: 'http://127.0.0.1:4000' },
  });

  it('gives every resource an AWS-shaped physical name and ARN', () => {
    const r = physical.resources;
    expect(r.Table).toMatchObject({
      ref: 'Countersign-Table',
      attributes: { Arn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/Countersign-Table' },
    });
    expect(r.Role).toMatchObject({
      ref: 'Countersign-Role',
      attributes: { Arn: 'arn:aws:iam::123456789012:role/Countersign-Role' },
    });
    expect(r.Role!.attributes.RoleId).toMatch(/^AROA[A-Z2-7]{17}$/);
    expect(r.NamedRole).toMatchObject({
      ref: 'countersign-eu-west-1',
      attributes: { Arn: 'arn:aws:iam::123456789012:role/service/countersign-eu-west-1' },
    });
    expect(r.Fn).toMatchObject({
      ref: 'Countersign-Fn',
      attributes: { Arn: 'arn:aws:lambda:eu-west-1:123456789012:function:Countersign-Fn' },
    });
    expect(r.Machine).toMatchObject({
      ref: 'arn:aws:states:eu-west-1:123456789012:stateMachine:Countersign-Machine',
      attributes: { Name: 'Countersign-Machine' },
    });
    expect(r.Secret!.ref).toMatch(
      /^arn:aws:secretsmanager:eu-west-1:123456789012:secret:Countersign-Secret-[A-Za-z]{6}$/,
    );
    expect(r.Queue).toMatchObject({
      ref: 'https://sqs.eu-west-1.amazonaws.com/123456789012/Countersign-Queue',
      attributes: {
        Arn: 'arn:aws:sqs:eu-west-1:123456789012:Countersign-Queue',
        QueueName: 'Countersign-Queue',
      },
    });
    expect(r.Logs).toMatchObject({
      ref: 'Countersign-Logs',
      attributes: { Arn: 'arn:aws:logs:eu-west-1:123456789012:log-group:Countersign-Logs:*' },
    });
    expect(r.Rule).toMatchObject({
      attributes: { Arn: 'arn:aws:events:eu-west-1:123456789012:rule/Countersign-Rule' },
    });
    expect(r.Key!.attributes.Arn).toMatch(/^arn:aws:kms:eu-west-1:123456789012:key\/[0-9a-f-]{36}$/);
    expect(r.Api!.ref).toMatch(/^[a-z0-9]{10}$/);
  });

  it('is deterministic: the same inputs, the same names', () => {
    const again = physicalResources(model, {
      account: '123456789012',
      region: 'eu-west-1',
      parameters: { OidcIssuer: 'http://127.0.0.1:4000' },
    });
    expect(again.resources).toEqual(physical.resources);
    expect(again.pseudo.stackId).toBe(physical.pseudo.stackId);
  });

  it('takes parameter overrides as cdk deploy --parameters does, and defaults otherwise', () => {
    expect(resolve({ Ref: 'OidcIssuer' }, physical)).toBe('http://127.0.0.1:4000');
    expect(resolve({ Ref: 'Mode' }, physical)).toBe('a');
    // SSM-typed parameters have no local value unless given.
    expect(() => resolve({ Ref: 'BootstrapVersion' }, physical)).toThrow(/BootstrapVersion/);
    expect(() =>
      physicalResources(model, { account: '1', region: 'eu-west-1', parameters: { Mode: 'c' } }),
    ).toThrow(/AllowedValues/);
    expect(() =>
      physicalResources(model, { account: '1', region: 'eu-west-1', parameters: { Typo: 'x' } }),
    ).toThrow(/Typo is not declared/);
  });

  it('leaves out resources whose Condition is false, and types it does not know', () => {
    expect(() => resolve({ Ref: 'Skipped' }, physical)).toThrow(/Condition is false/);
    expect(() => resolve({ Ref: 'Exotic' }, physical)).toThrow(/Exotic/);
  });

  it('uses the partition of the region', () => {
    const china = physicalResources(model, { account: '123456789012', region: 'cn-north-1' });
    expect(china.resources.Fn!.attributes.Arn).toBe(
      'arn:aws-cn:lambda:cn-north-1:123456789012:function:Countersign-Fn',
    );
    expect(china.pseudo.urlSuffix).toBe('amazonaws.com.cn');
  });

  it('shortens names over a service limit with a stable suffix', () => {
    const long = generatedName('Countersign', 'A'.repeat(80), 64);
    expect(long).toHaveLength(64);
    expect(long).toBe(generatedName('Countersign', 'A'.repeat(80), 64));
    expect(long).not.toBe(generatedName('Countersign', `${'A'.repeat(79)}B`, 64));
  });
});

describe('resolveEnvironment and resolveDefinition', () => {
  it("resolves a function's variables to strings", () => {
    expect(
      resolveEnvironment(
        {
          logicalId: 'Fn',
          environment: { TABLE_NAME: { Ref: 'Table' }, ACCOUNT: { Ref: 'AWS::AccountId' }, PLAIN: 'x' },
        },
        ctx,
      ),
    ).toEqual({ TABLE_NAME: 'Countersign-Table', ACCOUNT: '123456789012', PLAIN: 'x' });
    expect(() =>
      resolveEnvironment({ logicalId: 'Fn', environment: { LIST: { Ref: 'Zones' } } }, ctx),
    ).toThrow(/LIST resolves to/);
  });

  it('applies DefinitionSubstitutions and refuses a placeholder without one', () => {
    const definition = resolveDefinition(
      {
        logicalId: 'Machine',
        definitionString: { 'Fn::Join': ['', ['{"Resource":"', '${FnArn}', '"}']] },
        definitionSubstitutions: { FnArn: { 'Fn::GetAtt': ['Fn', 'Arn'] } },
      },
      ctx,
    );
    expect(JSON.parse(definition)).toEqual({
      Resource: 'arn:aws:lambda:eu-west-1:123456789012:function:Countersign-Fn',
    });
    expect(() =>
      resolveDefinition(
        { logicalId: 'Machine', definitionString: '{"R":"${Missing}"}', definitionSubstitutions: {} },
        ctx,
      ),
    ).toThrow(/Missing/);
  });
});
