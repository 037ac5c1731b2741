import { readdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Keeps the assembly cache from growing without end: each change of sources or configuration adds
 * a synthesized assembly (~7 MB). The newest `keep` stay, and so does anything used within the
 * last `graceMs` (a running stack starts function processes from its assembly's folders at any time).
 */
export function pruneAssemblyCache(cacheDir: string, inUse: string, keep = 6, graceMs = 6 * 3600_000): void {
  const now = new Date();
  try {
    utimesSync(inUse, now, now);
  } catch {
    return;
  }
  let entries: Array<{ path: string; mtime: number }>;
  try {
    entries = readdirSync(cacheDir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && /^[0-9a-f]{64}$/.test(e.name))
      .map((e) => ({ path: join(cacheDir, e.name), mtime: statSync(join(cacheDir, e.name)).mtimeMs }))
      .sort((a, b) => b.mtime - a.mtime);
  } catch {
    return;
  }
  for (const entry of entries.slice(keep)) {
    if (entry.path === inUse || now.getTime() - entry.mtime < graceMs) continue;
    rmSync(entry.path, { recursive: true, force: true });
  }
}
