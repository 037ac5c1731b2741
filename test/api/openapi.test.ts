import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '../../lib/project-root.js';
import { synthCountersign } from '../infra/synth.js';

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

/** docs/openapi.yaml is the contract: it documents exactly the routes the deployed API serves. */
describe('docs/openapi.yaml', () => {
  const document = parse(readFileSync(join(PROJECT_ROOT, 'docs', 'openapi.yaml'), 'utf8')) as {
    openapi: string;
    paths: Record<string, Record<string, unknown>>;
  };
  const documented = Object.entries(document.paths).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((key) => METHODS.includes(key))
      .map((method) => `${method.toUpperCase()} ${path}`),
  );
  const { stack, template } = synthCountersign();
  const served = stack.api.api.methods
    .filter((m) => m.httpMethod !== 'OPTIONS')
    .map((m) => `${m.httpMethod} ${m.resource.path}`);

  it('is OpenAPI 3.1', () => {
    expect(document.openapi).toMatch(/^3\.1\./);
  });

  it('reads the routes from the synthesized API', () => {
    // The construct's methods are the template's AWS::ApiGateway::Method resources, one for one.
    const inTemplate = Object.values(template.findResources('AWS::ApiGateway::Method')).filter(
      (r) => (r as { Properties: { HttpMethod: string } }).Properties.HttpMethod !== 'OPTIONS',
    );
    expect(served).toHaveLength(inTemplate.length);
    expect(served).toContain('GET /v1/requests');
  });

  it('documents every route the API serves', () => {
    expect(served.filter((route) => !documented.includes(route))).toEqual([]);
  });

  it('documents no /v1 route the API does not serve', () => {
    const v1 = documented.filter((route) => route.split(' ')[1]!.startsWith('/v1/'));
    expect(v1.filter((route) => !served.includes(route))).toEqual([]);
  });
});
