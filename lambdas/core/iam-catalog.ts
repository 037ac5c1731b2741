import { readFileSync } from 'node:fs';
import { brotliDecompressSync } from 'node:zlib';
import { type Arn, parseArn } from './arn.js';

/**
 * The IAM action catalog: which actions exist, their access levels, which resource types they apply
 * to, and which resource type an ARN is. Built by scripts/build-iam-catalog.ts from the service
 * authorization reference; decoded once per process on first use (a few milliseconds), and each
 * service's actions are indexed only when first asked for, so a cold start pays for what it reads.
 */

export const ACCESS_LEVELS = ['List', 'Read', 'Write', 'Tagging', 'Permissions management'] as const;
export type AccessLevel = (typeof ACCESS_LEVELS)[number];

/** The decoded shape written by scripts/build-iam-catalog.ts (keep both in step). */
export interface CatalogData {
  format: 1;
  source: string;
  /** Access-level combinations, e.g. `["Permissions management", "Write"]`; actions refer to them by index. */
  levels: string[][];
  services: Record<
    string,
    {
      /** Resource types: `[name, template, template…]`, templates without their `arn:${Partition}:` prefix. */
      t: string[][];
      /** Actions: `"Name levelIndex typeIndex typeIndex…"`. */
      a: string[];
    }
  >;
}

export interface ResourceType {
  /** The IAM service prefix that documents this type (`s3`), which may differ from the ARN's service. */
  readonly service: string;
  /** The type's name as the reference spells it (`object`, `function alias`). */
  readonly name: string;
  /** `service:name`, unique across the catalog. */
  readonly id: string;
  /** Full ARN templates, e.g. `arn:${Partition}:s3:::${BucketName}/${ObjectName}`. */
  readonly arnTemplates: readonly string[];
}

export interface IamAction {
  /** The canonical spelling, `service:ActionName`. */
  readonly action: string;
  readonly service: string;
  readonly name: string;
  /** One or more levels: the reference lists some actions as e.g. "Permissions management, Write". */
  readonly accessLevels: readonly AccessLevel[];
  /** Resource types the action can be granted on; empty when it only supports `Resource: "*"`. */
  readonly resourceTypes: readonly ResourceType[];
}

export type Applicability =
  | { readonly applies: true; readonly resourceTypes: readonly ResourceType[] }
  | {
      readonly applies: false;
      /** `resource-star-only`: the action cannot be scoped to any ARN, so it can never be granted. */
      readonly reason: 'resource-star-only' | 'not-applicable';
      readonly message: string;
    };

interface ServiceIndex {
  readonly types: readonly ResourceType[];
  readonly actions: ReadonlyMap<string, IamAction>;
}

interface CompiledTemplate {
  readonly type: ResourceType;
  readonly regex: RegExp;
  /** Literal characters in the template: more literal text means a more specific resource type. */
  readonly specificity: number;
}

// biome-ignore lint/suspicious/noTemplateCurlyInString: the reference's own placeholder syntax
const TEMPLATE_PREFIX = 'arn:${Partition}:';
const ACTION_INPUT = /^([A-Za-z0-9-]{1,64}):([A-Za-z0-9-]{1,128})$/;
const TEMPLATE_TOKEN = /\$\{[A-Za-z0-9_]+\}|\*/g;

function isAccessLevel(level: string): level is AccessLevel {
  return (ACCESS_LEVELS as readonly string[]).includes(level);
}

function escapeRegex(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * One ARN field (service, region or account) of a template as a regex fragment: a literal must be
 * equal, a variable needs some value, `*` takes anything (even nothing).
 */
function fieldPattern(field: string): { pattern: string; literal: number } {
  if (field === '*') return { pattern: '[^:]*', literal: 0 };
  if (field.includes('${') || field.includes('*')) return { pattern: '[^:]+', literal: 0 };
  return { pattern: escapeRegex(field), literal: field.length };
}

/**
 * The resource part of a template. A variable at the very end may hold anything, `/` and `:`
 * included (S3 object keys, IAM paths); a variable followed by `:` may hold `/` (log group names)
 * but not `:`; any other variable stays within one path segment. Keeping every non-final variable
 * unable to cross its delimiter keeps matching linear — no catastrophic backtracking on a 2 KB ARN.
 */
function resourcePattern(resource: string): { pattern: string; literal: number } {
  let pattern = '';
  let literal = 0;
  let last = 0;
  for (const match of resource.matchAll(TEMPLATE_TOKEN)) {
    const text = resource.slice(last, match.index);
    pattern += escapeRegex(text);
    literal += text.length;
    last = match.index + match[0].length;
    const next = resource[last];
    if (next === undefined) pattern += '.+';
    else if (next === ':') pattern += '[^:]+';
    else pattern += '[^:/]+';
  }
  const tail = resource.slice(last);
  return { pattern: pattern + escapeRegex(tail), literal: literal + tail.length };
}

export class IamCatalog {
  readonly source: string;
  readonly levels: readonly (readonly AccessLevel[])[];
  private readonly data: CatalogData;
  private readonly services = new Map<string, ServiceIndex>();
  private readonly types = new Map<string, readonly ResourceType[]>();
  private templatesByArnService?: Map<
    string,
    { raw: Array<[ResourceType, string]>; compiled?: CompiledTemplate[] }
  >;
  private templatesForAnyService?: { raw: Array<[ResourceType, string]>; compiled?: CompiledTemplate[] };

  constructor(data: CatalogData) {
    if (data.format !== 1) throw new Error(`unsupported IAM catalog format ${String(data.format)}`);
    this.data = data;
    this.source = data.source;
    this.levels = data.levels.map((combo) =>
      combo.map((level) => {
        // An unknown level would silently escape accessLevels rules; refuse the whole catalog instead.
        if (!isAccessLevel(level)) throw new Error(`IAM catalog has an unknown access level "${level}"`);
        return level;
      }),
    );
  }

  /** IAM service prefixes, sorted. */
  serviceNames(): string[] {
    return Object.keys(this.data.services);
  }

  hasService(service: string): boolean {
    return Object.hasOwn(this.data.services, service.toLowerCase());
  }

  actionsOf(service: string): IamAction[] {
    const index = this.serviceIndex(service.toLowerCase());
    return index ? [...index.actions.values()] : [];
  }

  resourceTypesOf(service: string): readonly ResourceType[] {
    return this.typesOf(service.toLowerCase()) ?? [];
  }

  get actionCount(): number {
    let count = 0;
    for (const service of Object.values(this.data.services)) count += service.a.length;
    return count;
  }

  /**
   * Finds an action from `service:Action`, case-insensitively as IAM reads it. Returns undefined for
   * anything that is not exactly one existing action (wildcards never match anything here).
   */
  lookupAction(input: string): IamAction | undefined {
    const match = ACTION_INPUT.exec(input);
    if (!match) return undefined;
    return this.serviceIndex(match[1]!.toLowerCase())?.actions.get(match[2]!.toLowerCase());
  }

  /**
   * The resource type(s) an ARN is: the most specific matching template wins, so
   * `arn:aws:s3:::bucket/key` is an S3 object, not a bucket whose name happens to hold a `/`.
   * Several types come back only when equally specific templates tie (an IAM role ARN is `iam:role`,
   * `sts:role` and `ec2:role`). Empty when the ARN is no known resource type.
   */
  resourceTypesForArn(arn: string | Arn): ResourceType[] {
    const parsed = typeof arn === 'string' ? parseArn(arn) : arn;
    this.buildTemplateIndex();
    const candidates = [
      ...this.compiled(this.templatesByArnService!.get(parsed.service)),
      ...this.compiled(this.templatesForAnyService),
    ];
    // Matched without the partition, which parseArn has already checked.
    const subject = `${parsed.service}:${parsed.region}:${parsed.account}:${parsed.resource}`;
    let best = -1;
    let found: ResourceType[] = [];
    for (const template of candidates) {
      if (template.specificity < best || !template.regex.test(subject)) continue;
      if (template.specificity > best) {
        best = template.specificity;
        found = [];
      }
      if (!found.includes(template.type)) found.push(template.type);
    }
    return found;
  }

  /** Whether an action can be granted on a resource of the given types (from resourceTypesForArn). */
  applicability(action: IamAction, arnTypes: readonly ResourceType[]): Applicability {
    if (action.resourceTypes.length === 0) {
      return {
        applies: false,
        reason: 'resource-star-only',
        message: `${action.action} supports only Resource "*" and cannot be granted on a single resource`,
      };
    }
    const matching = action.resourceTypes.filter((type) => arnTypes.includes(type));
    if (matching.length > 0) return { applies: true, resourceTypes: matching };
    const wanted = action.resourceTypes.map((type) => type.name).join(', ');
    const got = arnTypes.length > 0 ? arnTypes.map((type) => type.id).join(', ') : 'an unknown resource type';
    return {
      applies: false,
      reason: 'not-applicable',
      message: `${action.action} applies to ${wanted}, not to ${got}`,
    };
  }

  /**
   * A service's resource types, built once. Actions refer to these very objects, and
   * `applicability` compares by identity, so every path goes through here.
   */
  private typesOf(service: string): readonly ResourceType[] | undefined {
    const cached = this.types.get(service);
    if (cached) return cached;
    if (!Object.hasOwn(this.data.services, service)) return undefined;
    const types: readonly ResourceType[] = this.data.services[service]!.t.map(([name, ...templates]) => ({
      service,
      name: name!,
      id: `${service}:${name}`,
      arnTemplates: templates.map((template) => TEMPLATE_PREFIX + template),
    }));
    this.types.set(service, types);
    return types;
  }

  private serviceIndex(service: string): ServiceIndex | undefined {
    const cached = this.services.get(service);
    if (cached) return cached;
    const types = this.typesOf(service);
    if (!types) return undefined;
    const raw = this.data.services[service]!;
    const actions = new Map<string, IamAction>();
    for (const entry of raw.a) {
      const [name, level, ...typeIndexes] = entry.split(' ');
      const accessLevels = this.levels[Number(level)];
      if (!name || !accessLevels) throw new Error(`IAM catalog entry "${entry}" in ${service} is unreadable`);
      actions.set(name.toLowerCase(), {
        action: `${service}:${name}`,
        service,
        name,
        accessLevels,
        resourceTypes: typeIndexes.map((i) => {
          const type = types[Number(i)];
          if (!type)
            throw new Error(`IAM catalog entry "${entry}" in ${service} names a missing resource type`);
          return type;
        }),
      });
    }
    const index = { types, actions };
    this.services.set(service, index);
    return index;
  }

  private buildTemplateIndex(): void {
    if (this.templatesByArnService) return;
    const byService = new Map<string, { raw: Array<[ResourceType, string]> }>();
    const anyService: { raw: Array<[ResourceType, string]> } = { raw: [] };
    // Only the resource types: indexing every service's actions here (17,000 of them) made the
    // first ARN lookup of a cold start cost ~100 ms, most of it garbage collection.
    for (const service of this.serviceNames()) {
      for (const type of this.typesOf(service)!) {
        for (const template of type.arnTemplates) {
          const arnService = template.slice(TEMPLATE_PREFIX.length).split(':', 1)[0]!;
          if (arnService.includes('${') || arnService.includes('*')) {
            anyService.raw.push([type, template]);
          } else {
            const bucket = byService.get(arnService) ?? { raw: [] };
            byService.set(arnService, bucket);
            bucket.raw.push([type, template]);
          }
        }
      }
    }
    this.templatesByArnService = byService;
    this.templatesForAnyService = anyService;
  }

  private compiled(
    bucket: { raw: Array<[ResourceType, string]>; compiled?: CompiledTemplate[] } | undefined,
  ) {
    if (!bucket) return [];
    bucket.compiled ??= bucket.raw.flatMap(([type, template]) => {
      const fields = template.slice(TEMPLATE_PREFIX.length).split(':');
      if (fields.length < 4) return [];
      const [service, region, account] = fields.map(fieldPattern);
      const resource = resourcePattern(fields.slice(3).join(':'));
      const pattern = `^${service!.pattern}:${region!.pattern}:${account!.pattern}:${resource.pattern}$`;
      const specificity = service!.literal + region!.literal + account!.literal + resource.literal;
      return [{ type, regex: new RegExp(pattern), specificity }];
    });
    return bucket.compiled;
  }
}

let shared: IamCatalog | undefined;

/**
 * Where the generated catalog is, relative to this module. In a Lambda bundle every module's
 * `import.meta.url` is the bundle's, and the bundling copies the file to the same relative place
 * beside it (lib/bundling.ts `BUNDLE_FILES`), so one path serves the sources and the bundle.
 */
export const iamCatalogFile = (): URL => new URL('./generated/iam-catalog.br', import.meta.url);

/** The catalog generated at build time, read and decoded on first use, shared for the process's life. */
export function iamCatalog(): IamCatalog {
  if (!shared) {
    const file = iamCatalogFile();
    let packed: Buffer;
    try {
      packed = readFileSync(file);
    } catch (error) {
      // A packaging fault, not a request problem: no request can be validated, so none is accepted.
      throw new Error(`The IAM action catalog is missing (${file.pathname}); run npm ci or redeploy.`, {
        cause: error,
      });
    }
    shared = new IamCatalog(JSON.parse(brotliDecompressSync(packed).toString('utf8')) as CatalogData);
  }
  return shared;
}
