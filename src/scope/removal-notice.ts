/**
 * What run --scope says about its cgroup at the end: nothing when it was removed; the processes
 * left in it otherwise (COMMAND's daemons keep running: exitscope does not kill what it did not start).
 */
import type { Removal } from './run-cgroup.js';

export function removalNotice(path: string, r: Removal): string | undefined {
  if (r.removed) return undefined;
  if (r.pids.length === 0) return `exitscope: could not remove the cgroup ${path} (${r.reason}): rmdir it when it is empty`;
  const shown = r.pids.slice(0, 10).join(', ') + (r.pids.length > 10 ? ', ...' : '');
  return `exitscope: ${r.pids.length} process${r.pids.length === 1 ? '' : 'es'} left in the cgroup ${path} after the command ended (pid ${shown}): not removed; their exits after the run were not counted. rmdir it once they are gone`;
}

export function sayRemoval(path: string, r: Removal, write: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): void {
  const line = removalNotice(path, r);
  if (line) write(line);
}
