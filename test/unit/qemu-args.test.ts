import { describe, expect, it } from 'vitest';
import { KERNEL_APPEND, LAB_CPU, parseForward, parseMemory, qemuArgs, qemuEscape, type QemuConfig } from '../../src/lab/qemu-args.js';

const base: QemuConfig = {
  cpuModel: LAB_CPU,
  cpus: 2,
  memoryMiB: 2048,
  vmlinuz: '/c/vmlinuz',
  initramfs: '/c/initramfs.cpio',
  sockets: { console: '/r/con.sock', stdout: '/r/out.sock', stderr: '/r/err.sock' },
  interactive: false,
  ctlDir: '/r/ctl',
  writable: ['/work/a'],
  forwards: [{ hostPort: 8080, guestPort: 80 }],
  hostRoot: '/',
};

function after(args: string[], flag: string): string[] {
  return args.flatMap((a, i) => (a === flag ? [args[i + 1] ?? ''] : []));
}

describe('qemuArgs', () => {
  const args = qemuArgs(base);

  it('asks TCG for an AMD CPU with SVM and nested paging', () => {
    expect(after(args, '-machine')).toEqual(['q35']);
    // one TCG thread: multi-threaded TCG deadlocked the guest's live code patching now and then
    expect(after(args, '-accel')).toEqual(['tcg,thread=single']);
    expect(after(qemuArgs({ ...base, tcgThreads: 'multi' }), '-accel')).toEqual(['tcg,thread=multi']);
    expect(after(args, '-cpu')).toEqual(['EPYC,+svm,+npt']);
    expect(after(args, '-smp')).toEqual(['2']);
    expect(after(args, '-m')).toEqual(['2048M']);
  });

  it('exits instead of rebooting, with no default devices', () => {
    expect(args).toEqual(expect.arrayContaining(['-no-reboot', '-nodefaults', '-display', 'none']));
    expect(after(args, '-append')).toEqual([KERNEL_APPEND]);
    expect(KERNEL_APPEND).toContain('panic=-1');
    expect(KERNEL_APPEND).toContain('console=ttyS0');
    expect(KERNEL_APPEND.split(' ')).toContain('no_timer_check');
  });

  it('puts console, stdout and stderr on ttyS0..2 in that order', () => {
    expect(after(args, '-serial')).toEqual(['chardev:con', 'chardev:out', 'chardev:err']);
    expect(after(args, '-chardev')).toEqual(['socket,id=con,path=/r/con.sock', 'socket,id=out,path=/r/out.sock', 'socket,id=err,path=/r/err.sock']);
  });

  it('uses the terminal for the shell in interactive mode', () => {
    const shell = qemuArgs({ ...base, interactive: true });
    expect(after(shell, '-chardev')).toContain('stdio,id=out,signal=off');
  });

  it('shares the host root read-only, the control dir and writable dirs read-write', () => {
    const fsdevs = after(args, '-fsdev');
    expect(fsdevs[0]).toBe('local,id=host,path=/,security_model=none,readonly=on,multidevs=remap');
    expect(fsdevs[1]).toBe('local,id=ctl,path=/r/ctl,security_model=none');
    expect(fsdevs[2]).toBe('local,id=w0,path=/work/a,security_model=none');
    expect(after(args, '-device')).toEqual(expect.arrayContaining(['virtio-9p-pci,fsdev=host,mount_tag=host', 'virtio-9p-pci,fsdev=w0,mount_tag=w0']));
  });

  it('forwards host ports on loopback only', () => {
    expect(after(args, '-netdev')).toEqual(['user,id=n0,hostfwd=tcp:127.0.0.1:8080-:80']);
  });

  it('escapes commas in shared paths', () => {
    expect(qemuEscape('/a,b')).toBe('/a,,b');
    expect(after(qemuArgs({ ...base, writable: ['/x,y'] }), '-fsdev')[2]).toContain('path=/x,,y,');
  });

  it('refuses bad sizes and CPU models before QEMU sees them', () => {
    expect(() => qemuArgs({ ...base, cpus: 0 })).toThrow(RangeError);
    expect(() => qemuArgs({ ...base, memoryMiB: 100 })).toThrow(/256/);
    expect(() => qemuArgs({ ...base, cpuModel: 'EPYC -smp 99' })).toThrow(/--cpu/);
    expect(() => qemuArgs({ ...base, sockets: { ...base.sockets, console: '/a,b' } })).toThrow(/comma/);
  });
});

describe('parseForward', () => {
  it.each([
    ['8080', { hostPort: 8080, guestPort: 8080 }],
    ['18080:8080', { hostPort: 18080, guestPort: 8080 }],
  ])('%s', (spec, want) => expect(parseForward(spec)).toEqual(want));
  it.each(['', 'http', '1:2:3', '0', '70000:1', '-1'])('rejects %j', (spec) => expect(() => parseForward(spec)).toThrow(/--forward/));
});

describe('parseMemory', () => {
  it.each([
    ['2048', 2048],
    ['2048M', 2048],
    ['2G', 2048],
    ['1GiB', 1024],
    ['512m', 512],
  ])('%s -> %d MiB', (spec, mib) => expect(parseMemory(spec)).toBe(mib));
  it.each(['', 'lots', '2T', '128M'])('rejects %j', (spec) => expect(() => parseMemory(spec)).toThrow(/--memory/));
});
