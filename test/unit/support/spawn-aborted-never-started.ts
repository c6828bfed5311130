/**
 * Spawns programs that never start (ENOENT with an already-aborted cancelSignal, ENOTDIR), kills
 * each, then says `survived CODE KILLED CODE KILLED`. Run in a session of its own (test/unit/child-result.test.ts): had the cancel been sent to
 * the never-started child, Node would have signalled this process group, and this process with it.
 */
import { spawnWithResult } from '../../../src/process/child-result.js';

const ac = new AbortController();
ac.abort();
// ENOENT: emitted by Node, with a handle but no pid until its next tick
const enoent = spawnWithResult('/nonexistent/exitscope-no-such-tracer', [], { cancelSignal: ac.signal, forceKillAfterDelay: 10 });
const killedEnoent = enoent.kill('SIGTERM');
// ENOTDIR: thrown by Node; what stands for the child must not signal anything either
const enotdir = spawnWithResult('/etc/passwd/not-a-directory', [], { forceKillAfterDelay: 10 });
const killedEnotdir = enotdir.kill('SIGTERM');
const [a, b] = [await enoent, await enotdir];
await new Promise((res) => setTimeout(res, 100));
process.stdout.write(`survived ${a.code} ${killedEnoent} ${b.code} ${killedEnotdir}\n`);
