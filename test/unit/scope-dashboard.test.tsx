import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { render } from 'ink-testing-library';
import { expect, it } from 'vitest';
import { Aggregate } from '../../src/model/aggregate.js';
import { Hello } from '../../src/protocol/messages.js';
import { Header } from '../../ui/components/Header.js';
import { themeFor } from '../../ui/theme.js';
import { buildView, INITIAL_UI } from '../../ui/view-model.js';

const hello = JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/recordings/run-npf-1031-npt-on.jsonl'), 'utf8').split('\n')[0] as string) as Record<string, unknown> & { filters: Record<string, unknown> };
const viewOf = (filters: Record<string, unknown>) => {
  const agg = new Aggregate();
  agg.apply(Hello.parse({ ...hello, filters }));
  return buildView(agg, INITIAL_UI, { paused: false, self: undefined, source: 'live' });
};

it("the dashboard's header says what was scoped, and nothing when every cgroup is counted", () => {
  const scoped = viewOf({ ...hello.filters, cgroup: { path: '/sys/fs/cgroup/machine.slice/vm1.scope', ids: ['77'], created: false } });
  expect(scoped.header.scope).toBe('/sys/fs/cgroup/machine.slice/vm1.scope');
  const frame = render(<Header h={scoped.header} theme={themeFor({ NO_COLOR: '1' })} width={120} />);
  expect(frame.lastFrame()).toContain('scoped to cgroup /sys/fs/cgroup/machine.slice/vm1.scope · probes:');
  frame.unmount();
  const all = viewOf(hello.filters);
  expect(all.header.scope).toBeUndefined();
  const plain = render(<Header h={all.header} theme={themeFor({ NO_COLOR: '1' })} width={120} />);
  expect(plain.lastFrame()).not.toContain('scoped');
  plain.unmount();
});
