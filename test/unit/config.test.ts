import { describe, expect, it } from 'vitest';
import { ConfigInvalidError } from '../../lambdas/core/errors.js';
import { parseConfigText } from '../../lib/aws/synth-config.js';

const GOOD = `
roles: { agents: [agents], approvers: [approvers], auditors: [auditors] }
slack: { channel: C0123456789, teamId: T0123456789, appId: A0123456789, users: {} }
targets:
  - account: "111122223333"
    roleArn: arn:aws:iam::111122223333:role/countersign-target
rules:
  - name: reads
    match: { accessLevels: [Read] }
    effect: allow
  - name: writes
    match: { accessLevels: [Write] }
    effect: approve
    approvers: [alice@example.com, bob@example.com]
default: deny
`;

const problems = (text: string): ConfigInvalidError => {
  try {
    parseConfigText(text, 'team.yaml');
  } catch (error) {
    if (error instanceof ConfigInvalidError) return error;
    throw error;
  }
  throw new Error('the configuration was accepted');
};

describe('configuration', () => {
  it('needs no identity section in local mode: audience countersign, groups claim groups', () => {
    const config = parseConfigText(GOOD, 'team.yaml');
    expect(config.identity).toEqual({ audience: 'countersign', groupsClaim: 'groups' });
  });

  it('reports every problem at once, naming rules by their name', () => {
    const text = GOOD.replace('account: "111122223333"', 'account: 111122223333')
      .replace(
        'approvers: [alice@example.com, bob@example.com]',
        'approvers: [alice@example.com]\n    quorum: 2',
      )
      .replace('effect: allow', 'effect: allow\n    quorum: 1');
    const error = problems(text);
    expect(error.issues.map((i) => i.key).sort()).toEqual(
      ['rules[reads].quorum', 'rules[writes].quorum', 'targets[0].account'].sort(),
    );
    expect(error.message).toMatch(/^team\.yaml: 3 problems:\n {2}/);
    expect(error.message).toContain(
      'rules[writes].quorum: quorum 2 cannot be reached by 1 named approver(s)',
    );
    expect(error.message).toContain(
      'targets[0].account: a 12-digit AWS account id as text: quote it in YAML ("111122223333")',
    );
  });

  it('names a single problem on one line', () => {
    const error = problems(GOOD.replace('default: deny', 'default: allow'));
    expect(error.message).toBe(
      'team.yaml: default: only "deny" is allowed: anything no rule names is refused',
    );
  });

  it("keeps the YAML parser's whole message: line, column and the offending line", () => {
    const error = problems(GOOD.replace('effect: allow', 'effect: allow: now'));
    expect(error.message).toMatch(/^team\.yaml: not valid YAML: .*at line \d+, column \d+:\n/);
    expect(error.message).toContain('effect: allow: now');
    expect(error.message).toContain('^');
  });

  it('refuses duplicate keys as YAML problems', () => {
    const error = problems(GOOD.replace('default: deny', 'default: deny\ndefault: deny'));
    expect(error.message).toMatch(/not valid YAML: Map keys must be unique/);
  });
});
