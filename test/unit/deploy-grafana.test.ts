/**
 * deploy/grafana/exitscope.json: the panels the issue asks for are there, every query goes to the
 * chosen Prometheus and honours the host, job and VM choices. That each expression runs and returns
 * data is the e2e's part (test/e2e/prometheus-replay.test.ts, a real Prometheus).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DASHBOARD_FILE, dashboardQueries, fillGrafanaVariables } from '../deploy-kit.js';

interface Panel {
  id?: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: { expr: string; refId: string; datasource?: { uid: string }; format?: string }[];
}
const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as { uid: string; panels: Panel[]; templating: { list: { name: string; type: string; query: unknown }[] } };
const panels = dashboard.panels.filter((p) => p.type !== 'row');

describe('the Grafana dashboard', () => {
  it('has the panels of the issue: exits/s by host and reason, top VMs, latency heatmap, fault kinds, TDP vs shadow, lost events', () => {
    const titles = panels.map((p) => p.title);
    for (const t of ['Exits/s by host', 'Exits/s by host and reason', 'Top VMs by exits/s', 'Page faults/s by kind', 'Fault handler calls/s: TDP vs shadow', 'Lost events and collection gaps', 'Nested paging by host'])
      expect(titles).toContain(t);
    const heatmap = panels.find((p) => p.type === 'heatmap');
    expect(heatmap?.targets?.[0]?.expr).toContain('exitscope_exit_handling_seconds_bucket');
    expect(heatmap?.targets?.[0]?.format).toBe('heatmap');
  });

  it('asks the chosen data source, with unique panel ids and refIds, and no panel outside the 24-column grid', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      const refs = (p.targets ?? []).map((t) => t.refId);
      expect(refs.length, p.title).toBeGreaterThan(0);
      expect(new Set(refs).size, p.title).toBe(refs.length);
    }
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'job', 'instance', 'vm']);
  });

  it('every query is limited to the chosen job and hosts, and per-VM families to the chosen VMs', () => {
    for (const q of dashboardQueries(dashboard).filter((q) => q.refId !== 'var')) {
      for (const sel of q.expr.matchAll(/(exitscope_\w+|process_\w+)\{([^}]*)\}/g)) {
        expect(sel[2], `${q.panel}: ${sel[1]}`).toContain('job=~"$job"');
        expect(sel[2], `${q.panel}: ${sel[1]}`).toContain('instance=~"$instance"');
        if (/exitscope_(exits_total|exit_handling|page_faults|fault_handler|vm_info)/.test(sel[1] ?? '')) expect(sel[2], `${q.panel}: ${sel[1]}`).toContain('vm=~"$vm"');
      }
      // every metric name in the query has a selector (none reads the whole fleet by accident)
      expect(q.expr.match(/\b(exitscope_\w+|process_\w+)(?!\{|\w)/g), q.panel).toBeNull();
    }
  });

  it('the variables are read the way Grafana fills them for "All"', () => {
    const q = dashboardQueries(dashboard);
    expect(q.filter((x) => x.refId === 'var').map((x) => x.expr)).toEqual([
      'count by (job) (exitscope_build_info)',
      'count by (instance) (exitscope_build_info{job=~"$job"})',
      'count by (vm) (exitscope_vm_info{job=~"$job", instance=~"$instance"})',
    ]);
    expect(fillGrafanaVariables('rate(x{job=~"$job", instance=~"$instance", vm=~"${vm}"}[$__rate_interval]) / $__range', { rateInterval: '2m', range: '1h' })).toBe('rate(x{job=~".*", instance=~".*", vm=~".*"}[2m]) / 1h');
  });
});
