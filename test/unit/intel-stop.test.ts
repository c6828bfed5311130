/**
 * Stopping the Intel lab's command without losing what it wrote (src/lab/intel/stop-request.ts):
 * the control disk, its Bochs line, the guest's event, and the guest's shell lines run for real in
 * the static busybox the guest boots with (its applets only on PATH), a temp file as the disk.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bochsrc, CTL_DISK_BYTES, CTL_DISK_GEOMETRY, RUN_FILES } from '../../src/lab/intel/bochsrc.js';
import { intelInitScript, stoppableCommand } from '../../src/lab/intel/init-script.js';
import { CTL_DEVICE, parseEvent } from '../../src/lab/intel/serial-protocol.js';
import { createCtlDisk, requestStop, STOP_WORD } from '../../src/lab/intel/stop-request.js';
import { requireStaticBusybox } from '../../src/lab/preflight.js';

describe('the control disk', () => {
  it('is on the second channel beside the output disk, its size the geometry Bochs checks', () => {
    const line = bochsrc({ memoryMiB: 2048 }).split('\n').find((l) => l.startsWith('ata1-slave:'));
    const g = CTL_DISK_GEOMETRY;
    expect(line).toBe(`ata1-slave: type=disk, path=${RUN_FILES.ctlDisk}, mode=flat, cylinders=${g.cylinders}, heads=${g.heads}, spt=${g.spt}`);
    expect(CTL_DISK_BYTES).toBe(g.cylinders * g.heads * g.spt * 512);
    expect(CTL_DEVICE).toBe('$CTL_DEV');
  });
  it('starts as zeros; a stop request writes the word at its first byte and keeps its size', () => {
    const disk = join(mkdtempSync(join(tmpdir(), 'ctl-')), 'ctl.img');
    createCtlDisk(disk);
    expect(statSync(disk).size).toBe(CTL_DISK_BYTES);
    expect(readFileSync(disk).every((b) => b === 0)).toBe(true);
    requestStop(disk);
    requestStop(disk);
    const bytes = readFileSync(disk);
    expect(bytes.length).toBe(CTL_DISK_BYTES);
    expect(bytes.subarray(0, STOP_WORD.length + 1).toString()).toBe(`${STOP_WORD}\n`);
    expect(bytes.subarray(STOP_WORD.length + 1).every((b) => b === 0)).toBe(true);
  });
  it('the guest says when it stops the command', () => {
    expect(parseEvent('exitscope-lab: stopping')).toEqual({ kind: 'stopping' });
  });
  it('/init waits for the control disk and runs the command through the stop watcher, then reports and copies back', () => {
    const init = intelInitScript({ baseModules: ['/lib/modules/ata_piix.ko'], kvmModules: ['/lib/modules/kvm.ko', '/lib/modules/kvm-intel.ko'] });
    expect(init).toContain(`[ -z "$(disk_of ${CTL_DISK_BYTES / 512})" ]`);
    expect(init).toContain(`CTL_DEV=$(disk_of ${CTL_DISK_BYTES / 512})`);
    const order = [`dd if=/newroot${CTL_DEVICE} bs=512 count=1 iflag=direct`, 'chroot /newroot /bin/sh /run/exitscope-lab/run.sh', 'event "status $status"', 'cpio -o -H newc'].map((s) => init.indexOf(s));
    expect(order.every((i) => i > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });
  it('refuses text that would break its quoting, and times that are not seconds', () => {
    expect(() => stoppableCommand({ ctl: '/dev/sdb', pidFile: '/cmdpid', command: "sh -c 'x'", redirects: '' })).toThrow(/quoting/);
    for (const bad of [0, -1, Number.NaN, 1e9]) expect(() => stoppableCommand({ ctl: '/dev/sdb', pidFile: '/cmdpid', command: 'true', redirects: '', pollSeconds: bad })).toThrow(RangeError);
  });
});

/** Runs stoppableCommand in busybox sh with only busybox's applets on PATH; `stopWhen` asks for a stop once true. */
function runGuestLines(cmdScript: string, graceSeconds: number, stopWhen?: (dir: string) => boolean): Promise<{ status: number | null; out: string; events: string[]; dir: string }> {
  const busybox = requireStaticBusybox();
  const dir = mkdtempSync(join(tmpdir(), 'intel-stop-'));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  execFileSync(busybox, ['--install', '-s', bin]);
  createCtlDisk(join(dir, 'ctl.img'));
  writeFileSync(join(dir, 'cmd.sh'), cmdScript.replaceAll('DIR', dir));
  const lines = stoppableCommand({ ctl: join(dir, 'ctl.img'), pidFile: join(dir, 'cmdpid'), command: `sh ${join(dir, 'cmd.sh')}`, redirects: `< /dev/null > ${join(dir, 'out.txt')}`, graceSeconds });
  const script = [`event() { echo "$*" >> ${join(dir, 'events')}; }`, lines, 'echo "status=$status"', 'sleep 0.5', 'kill -0 "$watcher" 2>/dev/null && echo watcher-alive || echo watcher-gone'].join('\n');
  const child = spawn(busybox, ['sh', '-c', script], { env: { PATH: bin }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  let poll: NodeJS.Timeout | undefined;
  if (stopWhen)
    poll = setInterval(() => {
      if (stopWhen(dir)) {
        requestStop(join(dir, 'ctl.img'));
        clearInterval(poll);
      }
    }, 50);
  return new Promise((resolve) =>
    child.on('close', (status) => {
      if (poll) clearInterval(poll);
      const events = existsSync(join(dir, 'events')) ? readFileSync(join(dir, 'events'), 'utf8').trim().split('\n') : [];
      resolve({ status, out, events, dir });
    }),
  );
}

describe("the guest's stop watcher, in busybox sh", { timeout: 60_000 }, () => {
  it('a command that ends by itself: its status, no stop, the watcher gone', async () => {
    const r = await runGuestLines('echo hello\nexit 3\n', 1);
    expect(r.out).toContain('status=3');
    expect(r.out).toContain('watcher-gone');
    expect(r.events).toEqual([]);
    expect(readFileSync(join(r.dir, 'out.txt'), 'utf8')).toBe('hello\n');
  });
  it('a stop request: the whole process group gets SIGINT (as from a terminal), the command finishes its work, its status comes back', async () => {
    // the command runs a child in the foreground, as exitscope runs bpftrace and the workload: both get the signal
    const dir = mkdtempSync(join(tmpdir(), 'intel-stop-cmd-'));
    writeFileSync(join(dir, 'child.sh'), `trap 'echo child > ${dir}/child-int; exit 7' INT\necho ok > ${dir}/started\nwhile :; do sleep 0.1; done\n`);
    const cmd = [`trap 'echo parent > ${dir}/parent-int; exit 130' INT`, `sh ${dir}/child.sh`, 'echo the child ended', ''].join('\n');
    const r = await runGuestLines(cmd, 30, () => existsSync(join(dir, 'started')));
    expect(r.events).toEqual(['stopping']);
    expect(readFileSync(join(dir, 'child-int'), 'utf8')).toBe('child\n');
    expect(readFileSync(join(dir, 'parent-int'), 'utf8')).toBe('parent\n');
    expect(r.out).toContain('status=130');
    expect(r.out).toContain('watcher-gone');
  });
  it('a command that ignores SIGINT is killed after the grace', async () => {
    const r = await runGuestLines(["trap '' INT", 'echo ok > DIR/started', 'while :; do sleep 0.1; done', ''].join('\n'), 1, (dir) => existsSync(join(dir, 'started')));
    expect(r.events).toEqual(['stopping']);
    expect(r.out).toContain('status=137');
  });
});
