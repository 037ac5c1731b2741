#!/usr/bin/env node
// The package bin. It registers tsx so the TypeScript entry (and lib/) run without a build step,
// from any working directory: the import below resolves relative to this file, not the cwd.
import { register } from 'tsx/esm/api';

register();
await import('./countersign.ts');
