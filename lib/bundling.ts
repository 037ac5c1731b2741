import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { BuildOptions } from 'esbuild';

/**
 * How every Countersign Lambda is bundled, in one place: the CDK functions (lib/aws, through
 * NodejsFunction's `bundling`) and the benchmarks (bench/, through esbuild directly) read these
 * values, so the bundle that is measured is the bundle that is deployed.
 *
 * NodejsFunction spells a few of them differently: `sourcemap` is `sourceMap`, `banner.js` is
 * `banner`, `external` is `externalModules`, and `format: 'esm'` is `OutputFormat.ESM`.
 */

/**
 * Some CommonJS dependencies call require() for Node built-ins; an ESM bundle has no require, so
 * each bundle starts by making one.
 */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __countersignCreateRequire } from 'node:module'; const require = __countersignCreateRequire(import.meta.url);";

/** DESIGN.md §2: Node.js 22 or 24 on arm64. The bundle targets node22 so either runtime runs it. */
const LAMBDA_NODE_TARGET = 'node22';

/**
 * SDK modules replaced in Lambda bundles by the smaller ones beside each handler; each file says
 * why it is safe. NodejsFunction takes them as `esbuildArgs: { '--alias': ['from=to', …] }`.
 */
const SDK_ALIASES = {
  '@aws-sdk/credential-provider-node': './lambdas/adapters/sdk-lambda-credentials.ts',
  '@smithy/core/event-streams': './lambdas/adapters/sdk-no-event-streams.ts',
} as const;

export const LAMBDA_BUNDLING = {
  bundle: true,
  platform: 'node',
  target: LAMBDA_NODE_TARGET,
  format: 'esm',
  minify: true,
  // Lambda reports `error.name` as the error type, which the state machine's Retry and Catch match
  // (DependencyError, RequestNotReadyError, Countersign.NotGranted). Every error class in lambdas/
  // spells its name literally instead of taking it from the class, which minification renames, so
  // names need not be kept: keepNames would cost every bundle about 7% (test/infra/error-names.test.ts).
  keepNames: false,
  // Line numbers are enough to read a stack trace; the sources stay out of the artifact.
  sourcemap: true,
  sourcesContent: false,
  mainFields: ['module', 'main'],
  banner: { js: ESM_REQUIRE_BANNER },
  // Bundle the SDK clients each handler imports (tree-shaken) rather than trusting the runtime's
  // copy: the code that runs is the code that was tested.
  external: [],
  // Paths relative to the repository root, where both lib/aws and bench/ run esbuild.
  alias: SDK_ALIASES,
} as const satisfies BuildOptions;

/**
 * Data files a handler's bundle reads at run time, copied beside `index.mjs` at the same path
 * relative to it as they have relative to the module that reads them (see iamCatalogFile).
 * Paths are relative to the repository root (`from`) and to the bundle directory (`to`).
 */
export const BUNDLE_FILES: Readonly<Record<string, ReadonlyArray<{ from: string; to: string }>>> = {
  'request-access': [{ from: 'lambdas/core/generated/iam-catalog.br', to: 'generated/iam-catalog.br' }],
};

/** Copies a handler's BUNDLE_FILES into its bundle directory (the benchmarks; CDK uses commandHooks). */
export function copyBundleFiles(handler: string, root: string, bundleDir: string): void {
  for (const { from, to } of BUNDLE_FILES[handler] ?? []) {
    mkdirSync(dirname(join(bundleDir, to)), { recursive: true });
    copyFileSync(join(root, from), join(bundleDir, to));
  }
}

/** What a deployed function sets in NODE_OPTIONS so stack traces point into the sources. */
export const LAMBDA_NODE_OPTIONS = '--enable-source-maps';

/** The esbuild options for one handler, with `define` (the inlined configuration) and its output file. */
export function lambdaBuildOptions(
  entry: string,
  outfile: string,
  define: Record<string, string>,
): BuildOptions {
  return {
    ...LAMBDA_BUNDLING,
    mainFields: [...LAMBDA_BUNDLING.mainFields],
    banner: { ...LAMBDA_BUNDLING.banner },
    external: [...LAMBDA_BUNDLING.external],
    alias: { ...LAMBDA_BUNDLING.alias },
    entryPoints: [entry],
    outfile,
    define,
  };
}
