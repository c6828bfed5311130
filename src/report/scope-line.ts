/**
 * How a report says it was scoped to a cgroup (run --scope, --cgroup): counts that leave out every
 * other job on the host must never read as the host's.
 */
import type { Report } from './report.js';

export function scopeLine(s: NonNullable<Report['scope']>): string {
  const made = s.created ? ' (made for this run by --scope, removed after)' : '';
  const below = s.ids.length > 1 ? ` and the ${s.ids.length - 1} cgroup${s.ids.length === 2 ? '' : 's'} below it` : '';
  return `scoped to cgroup ${s.cgroup}${made}: only its threads' exits are counted${below ? ` (it${below})` : ''}`;
}
