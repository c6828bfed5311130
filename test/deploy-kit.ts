/**
 * The fleet kit (deploy/) as the tests read it: the systemd unit's settings (the lab runs the
 * exporter under the same bounding set and memory limit), the alert names of the rules and their
 * tests, and every PromQL expression of the Grafana dashboard with Grafana's variables filled in.
 * Test-only: nothing in src/ reads deploy/.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../src/lab/paths.js';

export const DEPLOY = join(repoRoot(), 'deploy');
export const UNIT_FILE = join(DEPLOY, 'systemd/exitscope-exporter.service');
export const ALERTS_FILE = join(DEPLOY, 'prometheus/exitscope-alerts.yml');
export const ALERT_TESTS_FILE = join(DEPLOY, 'prometheus/alerts.test.yml');
export const SCRAPE_CONFIG_FILE = join(DEPLOY, 'prometheus/prometheus.yml');
export const DASHBOARD_FILE = join(DEPLOY, 'grafana/exitscope.json');

/** A unit file's [Service] (or other section's) settings: key → every value given, in order. */
export function unitSettings(text: string, section = 'Service'): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const head = /^\[(.+)\]$/.exec(line);
    if (head) {
      current = head[1] ?? '';
      continue;
    }
    if (current !== section) continue;
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim();
    settings.set(key, [...(settings.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return settings;
}

/** The one value of a setting (the last one wins, as in systemd). */
export function setting(settings: Map<string, string[]>, key: string): string | undefined {
  return settings.get(key)?.at(-1);
}

/** CapabilityBoundingSet as capability names (CAP_BPF ...), in the file's order. */
export function boundingSet(settings: Map<string, string[]>): string[] {
  const v = setting(settings, 'CapabilityBoundingSet');
  if (v === undefined) throw new Error('the unit sets no CapabilityBoundingSet');
  if (v.startsWith('~')) throw new Error('CapabilityBoundingSet is a deny list: the lab needs the allowed set');
  return v.split(/\s+/).filter(Boolean);
}

/** The same set as setpriv's --bounding-set argument: -all,+bpf,+perfmon,... */
export function setprivBoundingSet(caps: readonly string[]): string {
  return ['-all', ...caps.map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`)].join(',');
}

/** MemoryMax in bytes (K, M, G, T suffixes are powers of 1024, as systemd reads them). */
export function memoryMaxBytes(settings: Map<string, string[]>): number {
  const v = setting(settings, 'MemoryMax');
  const m = v ? /^(\d+)([KMGT]?)$/.exec(v) : null;
  if (!m) throw new Error(`MemoryMax is not a size: ${v}`);
  const power = ['', 'K', 'M', 'G', 'T'].indexOf(m[2] ?? '');
  return Number(m[1]) * 1024 ** power;
}

/** Alert names defined in a rules file (`- alert: NAME`). */
export function alertNames(rulesYaml: string): string[] {
  return [...rulesYaml.matchAll(/^\s*-\s*alert:\s*(\S+)\s*$/gm)].map((m) => m[1] ?? '');
}

/** Alert names a promtool test file expects to fire (an `alertname:` whose exp_alerts is not empty). */
export function alertsTestedFiring(testsYaml: string): Set<string> {
  const fired = new Set<string>();
  const blocks = testsYaml.split(/^\s*-\s*eval_time:/m).slice(1);
  for (const b of blocks) {
    const name = /alertname:\s*(\S+)/.exec(b)?.[1];
    if (name && /exp_alerts:\s*\n\s*-\s*exp_labels/.test(b)) fired.add(name);
  }
  return fired;
}

export interface DashboardQuery {
  panel: string;
  refId: string;
  expr: string;
}

interface GrafanaPanel {
  title?: string;
  type?: string;
  panels?: GrafanaPanel[];
  targets?: { refId?: string; expr?: string }[];
}

/** Every PromQL expression of the dashboard: panel targets (rows included) and query variables. */
export function dashboardQueries(dashboard: { panels?: GrafanaPanel[]; templating?: { list?: { name?: string; type?: string; query?: unknown; definition?: string }[] } }): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  const walk = (panels: GrafanaPanel[] | undefined): void => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) if (t.expr) out.push({ panel: p.title ?? '(untitled)', refId: t.refId ?? '?', expr: t.expr });
      walk(p.panels);
    }
  };
  walk(dashboard.panels);
  for (const v of dashboard.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : ((v.query as { query?: string } | undefined)?.query ?? v.definition ?? '');
    // label_values(METRIC, LABEL) is Grafana's, not PromQL: the series it reads must exist
    const lv = /^label_values\((.+),\s*(\w+)\)$/.exec(q.trim());
    out.push({ panel: `variable $${v.name ?? '?'}`, refId: 'var', expr: lv ? `count by (${lv[2]}) (${lv[1]})` : q });
  }
  return out;
}

/**
 * Grafana's variables replaced the way Grafana would for "All" selected: $instance and $vm become
 * `.*` (they are only used with =~), $__rate_interval and $__interval the window given, $__range
 * the range given.
 */
export function fillGrafanaVariables(expr: string, o: { rateInterval: string; range: string }): string {
  return expr
    .replaceAll('$__rate_interval', o.rateInterval)
    .replaceAll('$__interval', o.rateInterval)
    .replaceAll('$__range', o.range)
    .replace(/\$\{?(instance|vm|reason|job)\}?/g, '.*');
}

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}
