import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../lambdas/core/errors.js';
import { PROJECT_ROOT } from '../project-root.js';

const APPROVAL_ASL_PATH = join(PROJECT_ROOT, 'state-machines', 'approval.asl.json');

/**
 * The ASL file with `definitionSubstitutions` applied, as CDK does on AWS. The local assembly takes
 * the definition from the synthesized template instead; this serves the state machine's own tests,
 * which drive every path of the file with stand-in tasks.
 */
export function loadApprovalDefinition(substitutions: Record<string, string>): object {
  let text = readFileSync(APPROVAL_ASL_PATH, 'utf8');
  for (const [name, value] of Object.entries(substitutions)) text = text.replaceAll(`\${${name}}`, value);
  const leftover = /\$\{[A-Za-z]+\}/.exec(text);
  if (leftover)
    throw new ConfigError('state-machines/approval.asl.json', `no substitution for ${leftover[0]}`);
  return JSON.parse(text) as object;
}
