/**
 * deploy/prometheus: promtool checks the scrape config and the rules, and runs the rules' unit
 * tests (alerts.test.yml); every alert is tested firing, says what to do, and its runbook anchor
 * is a heading of docs/fleet.md. That the expressions find exitscope's real series is the
 * e2e's part (test/e2e/prometheus-replay.test.ts).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/lab/paths.js';
import { ALERT_TESTS_FILE, alertNames, ALERTS_FILE, alertsTestedFiring, DEPLOY, SCRAPE_CONFIG_FILE } from '../deploy-kit.js';

const rules = readFileSync(ALERTS_FILE, 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'exitscope-promtool-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function promtool(args: string[], cwd: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { encoding: 'utf8', cwd });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** Anchors of docs/fleet.md's headings, the way GitHub makes them. */
function fleetAnchors(): Set<string> {
  const md = readFileSync(join(repoRoot(), 'docs/fleet.md'), 'utf8');
  return new Set([...md.matchAll(/^#+\s+(.+)$/gm)].map((m) => (m[1] ?? '').trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-')));
}

describe('alert rules', () => {
  it('promtool check rules: the aggregates for federation are valid', () => {
    const r = promtool(['check', 'rules', join(DEPLOY, 'prometheus/exitscope-aggregates.yml')], DEPLOY);
    expect(r.status, r.output).toBe(0);
  });

  it('promtool check rules: valid', () => {
    const r = promtool(['check', 'rules', ALERTS_FILE], DEPLOY);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain(`SUCCESS: ${alertNames(rules).length} rules found`);
  });

  it('promtool test rules: every case of alerts.test.yml passes', () => {
    const r = promtool(['test', 'rules', 'alerts.test.yml'], join(DEPLOY, 'prometheus'));
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain('SUCCESS');
  });

  it('promtool test rules fails when an alert no longer fires as tested (a threshold raised tenfold)', () => {
    copyFileSync(ALERT_TESTS_FILE, join(dir, 'alerts.test.yml'));
    writeFileSync(join(dir, 'exitscope-alerts.yml'), rules.replace('> 200000', '> 2000000'));
    const r = promtool(['test', 'rules', 'alerts.test.yml'], dir);
    expect(r.status).toBe(1);
    expect(r.output).toContain('alertname: ExitscopeExitStorm');
  });

  it('the issue\'s alerts are all there, each tested firing at least once', () => {
    const names = alertNames(rules);
    expect(names).toEqual(expect.arrayContaining(['ExitscopeNestedPagingOff', 'ExitscopeExitStorm', 'ExitscopeMmioStorm', 'ExitscopeLostEvents', 'ExitscopeExporterDown', 'ExitscopeNotCounting', 'ExitscopeProbeNotAttached']));
    const fired = alertsTestedFiring(readFileSync(ALERT_TESTS_FILE, 'utf8'));
    for (const n of names) expect(fired.has(n), `${n} has no test where it fires`).toBe(true);
  });

  it('every alert waits (for:), has a severity, and says what it means and what to do, with a runbook in docs/fleet.md', () => {
    const anchors = fleetAnchors();
    const blocks = rules.split(/^\s*-\s*alert:/m).slice(1);
    expect(blocks).toHaveLength(alertNames(rules).length);
    for (const b of blocks) {
      const name = b.trim().split(/\s/)[0] ?? '';
      expect(b, name).toMatch(/^\s+for: \d+m$/m);
      expect(b, name).toMatch(/^\s+severity: (warning|info|critical)$/m);
      expect(b, name).toMatch(/^\s+summary: /m);
      expect(b, name).toMatch(/^\s+description: /m);
      const runbook = /runbook: 'docs\/fleet\.md#([\w-]+)'/.exec(b)?.[1];
      expect(runbook, `${name} runbook`).toBeDefined();
      expect(anchors.has(runbook ?? ''), `docs/fleet.md has no heading for #${runbook}`).toBe(true);
    }
  });
});

describe('scrape config', () => {
  it('promtool check config: valid, with the token from a file (sent as a Bearer token)', () => {
    const config = readFileSync(SCRAPE_CONFIG_FILE, 'utf8');
    expect(config).toMatch(/authorization:\s*\n\s*type: Bearer\s*\n\s*credentials_file: \/etc\/prometheus\/exitscope.token/);
    // promtool opens the token file and the rule files: a copy with a token file of its own
    const tokenFile = join(dir, 'exitscope.token');
    writeFileSync(tokenFile, 'test-token\n', { mode: 0o600 });
    mkdirSync(join(dir, 'targets'), { recursive: true });
    copyFileSync(ALERTS_FILE, join(dir, 'exitscope-alerts.yml'));
    copyFileSync(join(DEPLOY, 'prometheus/exitscope-aggregates.yml'), join(dir, 'exitscope-aggregates.yml'));
    copyFileSync(join(DEPLOY, 'prometheus/targets/exitscope-example.yml'), join(dir, 'targets/exitscope-example.yml'));
    writeFileSync(join(dir, 'prometheus.yml'), config.replace('/etc/prometheus/exitscope.token', tokenFile));
    const r = promtool(['check', 'config', 'prometheus.yml'], dir);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain('SUCCESS: 2 rule files found');
  });
});
