import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { guestPath, labConfig, runScript } from '../../src/lab/boot.js';
import { GUEST_BIN } from '../../src/lab/guest-commands.js';
import { INTEL_GUEST_ENV_DEFAULTS } from '../../src/lab/intel/guest-env.js';
import { mapKeysMax } from '../../src/collector/collector.js';

/** Runs a script with a stub `cd` target, as the guest would, and returns its stdout. */
function sh(script: string, env: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'lab-script-'));
  const file = join(dir, 'run.sh');
  writeFileSync(file, script);
  return execFileSync('sh', [file], { encoding: 'utf8', env: { ...process.env, ...env } });
}

describe('labConfig', () => {
  it('is shell that /init can source, with quoted paths', () => {
    const text = labConfig({ mode: 'run', npt: false, writable: ['/a b', "/it's"] });
    const out = sh(`${text}\necho "$MODE|$NPT|$NET|$WRITABLE_COUNT|$WRITABLE_0|$WRITABLE_1"`);
    expect(out.trim()).toBe("run|0|1|2|/a b|/it's");
  });
});

describe('runScript', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'lab-cwd-'));

  it('runs the command verbatim from the working directory, with the guest PATH', () => {
    const out = sh(runScript({ mode: 'run', command: 'pwd; echo "$EXITSCOPE_LAB" "$PATH"', cwd }, '/repo/bin:/usr/bin:/bin')).trim().split('\n');
    expect(out[0]).toBe(cwd);
    expect(out[1]).toBe('1 /repo/bin:/usr/bin:/bin');
  });

  it('returns the command exit status', () => {
    const file = join(cwd, 's.sh');
    writeFileSync(file, runScript({ mode: 'run', command: 'exit 7', cwd }));
    let status = 0;
    try {
      execFileSync('sh', [file]);
    } catch (e) {
      status = (e as { status: number }).status;
    }
    expect(status).toBe(7);
  });

  it('fails with 126 when the working directory does not exist in the guest', () => {
    const file = join(cwd, 's2.sh');
    writeFileSync(file, runScript({ mode: 'run', command: 'true', cwd: '/no/such/dir' }));
    let status = 0;
    try {
      execFileSync('sh', [file], { stdio: 'ignore' });
    } catch (e) {
      status = (e as { status: number }).status;
    }
    expect(status).toBe(126);
  });

  it("a lab's defaults are exported, and a value already in the environment wins (the Intel lab's map cap)", () => {
    const script = runScript({ mode: 'run', command: 'echo "$EXITSCOPE_MAP_KEYS_MAX"', cwd }, '/bin:/usr/bin', INTEL_GUEST_ENV_DEFAULTS);
    expect(sh(script, { EXITSCOPE_MAP_KEYS_MAX: '' }).trim()).toBe('4096');
    expect(sh(script, { EXITSCOPE_MAP_KEYS_MAX: '65536' }).trim()).toBe('65536');
    // the command's own assignment wins too, as a user writes it
    expect(sh(runScript({ mode: 'run', command: 'EXITSCOPE_MAP_KEYS_MAX=1024 sh -c \'echo $EXITSCOPE_MAP_KEYS_MAX\'', cwd }, '/bin:/usr/bin', INTEL_GUEST_ENV_DEFAULTS), { EXITSCOPE_MAP_KEYS_MAX: '' }).trim()).toBe('1024');
    // the QEMU lab sets none: exitscope's own default applies there
    expect(sh(runScript({ mode: 'run', command: 'echo "[$EXITSCOPE_MAP_KEYS_MAX]"', cwd }, '/bin:/usr/bin'), { EXITSCOPE_MAP_KEYS_MAX: '' }).trim()).toBe('[]');
    // every default is a valid cap for exitscope (mapKeysMax would refuse it at start otherwise)
    expect(mapKeysMax({ EXITSCOPE_MAP_KEYS_MAX: INTEL_GUEST_ENV_DEFAULTS.EXITSCOPE_MAP_KEYS_MAX })).toBe(4096);
    expect(() => runScript({ mode: 'run', command: 'true', cwd }, '/bin', { 'bad name': 'x' })).toThrow(/bad variable name/);
  });

  it('needs a command in run mode', () => {
    expect(() => runScript({ mode: 'run', cwd })).toThrow(/needs a command/);
  });

  it('in session mode, is a loop over cmd-N.sh files that stops at quit', () => {
    const text = runScript({ mode: 'session', cwd });
    expect(text).toContain('while [ ! -e $S/quit ]');
    expect(text).toContain('mv $S/cmd-$n.tmp $S/cmd-$n.status');
    execFileSync('sh', ['-n'], { input: text });
  });

  it("puts the ctl share's bin/ (exitscope, exitscope-workload) first on the guest PATH, then the usual directories", () => {
    expect(guestPath().split(':')).toEqual([GUEST_BIN, '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']);
  });
});
