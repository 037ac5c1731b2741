import { fileURLToPath } from 'node:url';

/** The repository root (lib/ is one level down), with no trailing slash. */
export const PROJECT_ROOT = fileURLToPath(new URL('../', import.meta.url)).replace(/\/$/, '');
