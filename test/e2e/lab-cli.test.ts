/**
 * `exitscope lab` as a user runs it: the real CLI, a real QEMU guest.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTally } from '../../src/lab/workload.js';
import { REPO } from './lab-harness.js';

const CLI = join(REPO, 'bin/exitscope.js');

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

function exitscope(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; user?: string; onStdout?: (s: string) => void } = {}): Promise<Result> {
  const [cmd, argv] = opts.user ? ['runuser', ['-u', opts.user, '--', process.execPath, CLI, ...args]] : [process.execPath, [CLI, ...args]];
  return new Promise((resolve) => {
    const child = spawn(cmd as string, argv as string[], { env: opts.env ?? process.env, cwd: opts.cwd ?? REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      opts.onStdout?.(stdout);
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('exitscope lab --run', { timeout: 120_000 }, () => {
  it('runs perf stat around the workload: the tally on stdout, the kernel count on stderr', async () => {
    const r = await exitscope(['lab', '--run', 'perf stat -e kvm:kvm_exit -a -- exitscope-workload io 1009']);
    expect(r.status, r.stderr).toBe(0);
    const tally = parseTally(r.stdout);
    expect(tally.expected.find((e) => e.name === 'IOIO')?.count).toBe(1009);
    // perf's own line: "  1,018      kvm:kvm_exit" — all reasons, so at least the tally's sum
    const m = /([\d,]+)\s+kvm:kvm_exit/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    const total = Number((m?.[1] ?? '').replaceAll(',', ''));
    expect(total).toBeGreaterThanOrEqual(tally.expected.reduce((a, e) => a + e.count, 0));
    // progress went to stderr, in order
    const stages = ['kernel', 'booting', 'guest kernel running', 'KVM ready', 'ready'].map((s) => r.stderr.indexOf(s));
    expect(stages.every((at, i) => at >= 0 && (i === 0 || at > (stages[i - 1] ?? 0)))).toBe(true);
  });

  it('keeps stdout and stderr apart, passes the exit status, and lets files out through the writable dir', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lab-cli-'));
    const r = await exitscope(['lab', '-q', '--npt', 'off', '--writable', dir, '--run', `echo out; echo err >&2; cat /sys/module/kvm_amd/parameters/npt > ${dir}/npt; pwd > ${dir}/pwd; readlink /dev/fd > ${dir}/devfd; exit 7`], { cwd: dir });
    expect(r.status).toBe(7);
    expect(r.stdout).toBe('out\n');
    expect(r.stderr).toBe('err\n');
    expect(readFileSync(join(dir, 'npt'), 'utf8').trim()).toBe('N');
    expect(readFileSync(join(dir, 'pwd'), 'utf8').trim()).toBe(dir);
    // as on a real host (bpftrace 0.27 opens /dev/fd/N)
    expect(readFileSync(join(dir, 'devfd'), 'utf8').trim()).toBe('/proc/self/fd');
  });

  it('forwards a host port to a server in the guest', async () => {
    const port = 20000 + (process.pid % 20000);
    const server = `node -e "require('http').createServer((q, s) => { s.end('from the guest ' + require('os').release()); process.exit(0); }).listen(8000, () => console.log('listening'))"`;
    let reply = '';
    const r = await exitscope(['lab', '-q', '--no-writable', '--forward', `${port}:8000`, '--run', server], {
      onStdout: (out) => {
        if (out.includes('listening') && !reply)
          void fetch(`http://127.0.0.1:${port}/`).then(async (res) => (reply = await res.text()), () => undefined);
      },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(reply).toMatch(/^from the guest 6\./);
  });

  it('writes nothing outside the writable dirs: the rest of the host root is a RAM overlay', async () => {
    const marker = join(REPO, 'build', `overlay-probe-${process.pid}`);
    const r = await exitscope(['lab', '-q', '--no-writable', '--run', `echo x > ${marker} && cat ${marker}`]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('x\n');
    expect(existsSync(marker)).toBe(false);
  });
});

describe('exitscope lab errors', { timeout: 120_000 }, () => {
  it('without SVM in the CPU model: one clear error with the fix', async () => {
    const r = await exitscope(['lab', '--cpu', 'EPYC,-svm', '--run', 'true']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('error [LAB_NO_SVM]');
    expect(r.stderr).toContain('fix: drop --cpu');
  });

  it('a forwarded port already in use, before booting anything', async () => {
    const busy = createServer();
    await new Promise<void>((res) => busy.listen(0, '127.0.0.1', res));
    const port = (busy.address() as { port: number }).port;
    const r = await exitscope(['lab', '--forward', `${port}:80`, '--run', 'true']);
    busy.close();
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('error [LAB_PORT_IN_USE]');
    expect(r.stderr).not.toContain('booting');
  });

  it('no qemu-system-x86_64 on PATH', async () => {
    const r = await exitscope(['lab', '--run', 'true'], { env: { ...process.env, PATH: mkdtempSync(join(tmpdir(), 'nopath-')) } });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('error [LAB_NO_QEMU]');
    expect(r.stderr).toContain('fix: apt-get install qemu-system-x86');
  });

  it.skipIf(process.getuid?.() !== 0 || !existsSync('/usr/sbin/runuser'))('not root', async () => {
    const r = await exitscope(['lab', '--run', 'true'], { user: 'nobody', cwd: '/' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('error [LAB_NOT_ROOT]');
    expect(r.stderr).toContain('sudo exitscope lab');
  });

  it('bad flags are refused with the reason', async () => {
    for (const [args, msg] of [
      [['lab', '--cpus', '0'], '--cpus takes 1..64'],
      [['lab', '--memory', 'lots'], '--memory takes a size'],
      [['lab', '--npt', 'maybe'], "Allowed choices are on, off"],
      [['lab', '--forward', 'x'], '--forward takes PORT'],
    ] as const) {
      const r = await exitscope([...args]);
      expect(r.status, args.join(' ')).not.toBe(0);
      expect(r.stderr).toContain(msg);
    }
  });
});
