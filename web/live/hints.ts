/** The report's diagnosis hints (src/report/hints.ts), styled by severity. */
import type { Hint } from '../../src/report/hints.js';
import { byId, el } from './dom.js';

export function renderHints(hints: readonly Hint[]): void {
  const list = byId('hints');
  if (hints.length === 0) {
    list.replaceChildren(el('li', 'nothing to say about this window', 'muted'));
    return;
  }
  list.replaceChildren(
    ...hints.map((x) => {
      const li = el('li', undefined, x.severity);
      li.setAttribute('data-id', x.id);
      li.setAttribute('data-severity', x.severity);
      li.append(el('strong', x.severity === 'warning' ? 'warning: ' : 'info: '), el('span', x.message, 'message'));
      return li;
    }),
  );
}
