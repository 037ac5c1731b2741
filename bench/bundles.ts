import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FunctionModel } from '../lib/local/assembly/template.js';

/**
 * The Lambda bundles as they deploy: the file each function's `Handler` names, in the function's
 * asset folder of the synthesized cloud assembly (what `cdk deploy` uploads and what the local
 * assembly runs) — not a separate esbuild run.
 */
export interface BundleInfo {
  /** The function's logical id without CDK's hash suffix, e.g. `GetRequestFunction`. */
  name: string;
  file: string;
  /** Minified .mjs, the figure the 300 KB goal is about. */
  bytes: number;
  gzipBytes: number;
  mapBytes: number;
}

export function assemblyBundles(functions: readonly FunctionModel[]): BundleInfo[] {
  return functions.map((fn) => {
    const module = fn.handler.slice(0, fn.handler.lastIndexOf('.'));
    const file = ['.mjs', '.js', '.cjs'].map((ext) => join(fn.assetDir, `${module}${ext}`)).find(existsSync);
    if (!file) throw new Error(`${fn.logicalId}: no ${module}.mjs/.js in its asset folder ${fn.assetDir}`);
    const map = `${file}.map`;
    return {
      name: fn.logicalId.replace(/[0-9A-F]{8}$/, ''),
      file,
      bytes: statSync(file).size,
      gzipBytes: gzipSync(readFileSync(file)).length,
      mapBytes: existsSync(map) ? statSync(map).size : 0,
    };
  });
}
