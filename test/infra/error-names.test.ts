import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAMBDA_BUNDLING } from '../../lib/bundling.js';
import { PROJECT_ROOT } from '../../lib/project-root.js';

/**
 * Lambda reports `error.name` as the error type, and the state machine's Retry and Catch match it.
 * The bundles are minified without keepNames (lib/bundling.ts), so a name taken from the class
 * (`new.target.name`, `this.constructor.name`) comes out as `ye`. This test bundles every module of
 * lambdas/ that declares an error class, exactly as the functions are bundled, and checks that each
 * exported error class still names itself.
 */

/** Names that differ from the class's on purpose: the ASL catches them by these. */
const NAMED_OTHERWISE: Record<string, string> = { NotGrantedError: 'Countersign.NotGranted' };
/** Constructor arguments for classes that need more than two strings. */
const ARGUMENTS: Record<string, unknown[]> = {
  ConfigInvalidError: [[{ key: 'rules', message: 'probe' }]],
};

const LAMBDAS = join(PROJECT_ROOT, 'lambdas');
const CLASS = /^\s*(export\s+)?(?:abstract\s+)?class\s+(\w+)(?:<[^>]*>)?\s+extends\s+([\w.]+)/gm;

interface DeclaredClass {
  file: string;
  name: string;
  base: string;
  exported: boolean;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

function declaredClasses(): DeclaredClass[] {
  return sources(LAMBDAS).flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(CLASS)].map((m) => ({
      file: relative(PROJECT_ROOT, file),
      name: m[2]!,
      base: m[3]!,
      exported: m[1] !== undefined,
    })),
  );
}

/** Bundles the modules as the functions are bundled and imports the result: one namespace per module. */
async function bundled(dir: string, modules: string[]): Promise<Record<string, Record<string, unknown>>> {
  const outfile = join(dir, `bundle-${readdirSync(dir).length}.mjs`);
  await build({
    ...LAMBDA_BUNDLING,
    mainFields: [...LAMBDA_BUNDLING.mainFields],
    external: [...LAMBDA_BUNDLING.external],
    alias: { ...LAMBDA_BUNDLING.alias },
    banner: { ...LAMBDA_BUNDLING.banner },
    stdin: {
      contents: modules.map((m, i) => `export * as m${i} from ${JSON.stringify(m)};`).join('\n'),
      loader: 'ts',
      resolveDir: PROJECT_ROOT,
    },
    absWorkingDir: PROJECT_ROOT,
    outfile,
    sourcemap: false,
    logLevel: 'silent',
  });
  return (await import(pathToFileURL(outfile).href)) as Record<string, Record<string, unknown>>;
}

type ErrorClass = new (...args: unknown[]) => Error;

/** Every exported Error subclass of the bundled namespaces, by its export name. */
function errorClasses(namespaces: Record<string, Record<string, unknown>>): Map<string, ErrorClass> {
  const found = new Map<string, ErrorClass>();
  for (const namespace of Object.values(namespaces)) {
    for (const [name, value] of Object.entries(namespace)) {
      if (typeof value === 'function' && value.prototype instanceof Error)
        found.set(name, value as ErrorClass);
    }
  }
  return found;
}

/** `class → name it reports` for every class whose instances do not report the expected name. */
function misnamed(classes: Map<string, ErrorClass>): Record<string, string> {
  const wrong: Record<string, string> = {};
  for (const [name, Class] of classes) {
    let reported: string;
    try {
      reported = new Class(...(ARGUMENTS[name] ?? ['probe', 'probe'])).name;
    } catch (error) {
      reported = `(constructor threw ${String(error)}: add its arguments to ARGUMENTS)`;
    }
    if (reported !== (NAMED_OTHERWISE[name] ?? name)) wrong[name] = reported;
  }
  return wrong;
}

let dir: string;
let declared: DeclaredClass[];
let classes: Map<string, ErrorClass>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'countersign-error-names-'));
  declared = declaredClasses();
  const modules = [...new Set(declared.map((c) => `./${c.file}`))];
  classes = errorClasses(await bundled(dir, modules));
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('error names in the minified bundles', () => {
  it('finds the error classes the workflow retries and catches', () => {
    expect([...classes.keys()]).toEqual(
      expect.arrayContaining([
        'DependencyError',
        'RequestNotReadyError',
        'NotGrantedError',
        'ValidationError',
      ]),
    );
    // The bundle really is minified without kept names: the check below would be vacuous otherwise.
    expect(LAMBDA_BUNDLING).toMatchObject({ minify: true, keepNames: false });
  });

  it('every exported error class of lambdas/ names itself literally', () => {
    expect(misnamed(classes)).toEqual({});
  });

  it('every error class of lambdas/ is exported, so the check above sees it', () => {
    const errorNames = new Set(['Error', ...classes.keys()]);
    const unexported = declared
      .filter((c) => errorNames.has(c.base) || /(Error|Exception)$/.test(c.base) || /Error$/.test(c.name))
      .filter((c) => !c.exported || !classes.has(c.name))
      .map((c) => `${c.file}: ${c.name}`);
    expect(unexported).toEqual([]);
  });

  it('catches a class named by its class name (the check has teeth)', async () => {
    const probe = join(dir, 'probe.ts');
    writeFileSync(
      probe,
      `export class ProbeByClassNameError extends Error {
        constructor(message: string) { super(message); this.name = new.target.name; }
      }
      export class ProbeLiteralError extends ProbeByClassNameError { override name = 'ProbeLiteralError'; }`,
    );
    const probed = misnamed(errorClasses(await bundled(dir, [probe])));
    expect(Object.keys(probed)).toEqual(['ProbeByClassNameError']);
    expect(probed.ProbeByClassNameError).not.toBe('ProbeByClassNameError');
  });
});
