/**
 * deploy/systemd/exitscope-exporter.service: systemd itself checks it (systemd-analyze verify and
 * security, offline), and the least-privilege settings the docs promise are there. Whether bpftrace
 * really works under the bounding set was seen in the lab by hand (docs/fleet.md); no lab test holds it yet.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/lab/paths.js';
import { boundingSet, DEPLOY, memoryMaxBytes, setprivBoundingSet, setting, UNIT_FILE, unitSettings } from '../deploy-kit.js';

const unitText = readFileSync(UNIT_FILE, 'utf8');
const service = unitSettings(unitText);
const dir = mkdtempSync(join(tmpdir(), 'exitscope-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * verify wants ExecStart's program to exist: the copy runs /bin/true with the same arguments
 * (the installed path is the user's, /usr/local/bin from npm install -g).
 */
function verifiable(text: string, name: string): string {
  const file = join(dir, name);
  writeFileSync(file, text.replace(/^ExecStart=\S+/m, 'ExecStart=/bin/true'));
  return file;
}

function verify(file: string): { status: number | null; output: string } {
  const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8', cwd: dir });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

describe('the exporter unit', () => {
  it('passes systemd-analyze verify without a single warning', () => {
    expect(verify(verifiable(unitText, 'exitscope-exporter.service'))).toEqual({ status: 0, output: '' });
  });

  it('the verify check sees a mistyped option and a bad value (what the test above relies on)', () => {
    const broken = unitText.replace('ProtectSystem=strict', 'ProtectSystm=strict').replace('NoNewPrivileges=yes', 'NoNewPrivileges=maybe');
    const r = verify(verifiable(broken, 'broken.service'));
    expect(r.output).toContain("Unknown key 'ProtectSystm'");
    expect(r.output).toContain('Failed to parse boolean value');
  });

  it("systemd's own exposure score stays at 4.5 or below (it is 4.0: root, CAP_SYS_ADMIN and the network are what is left)", () => {
    const file = verifiable(unitText, 'exitscope-exporter.service');
    const r = spawnSync('systemd-analyze', ['security', '--offline=yes', file], { encoding: 'utf8', cwd: dir });
    const level = /Overall exposure level for \S+: ([\d.]+)/.exec(`${r.stdout}${r.stderr}`)?.[1];
    expect(level, r.stdout + r.stderr).toBeDefined();
    expect(Number(level)).toBeLessThanOrEqual(4.5);
  });

  it('keeps only the capabilities bpftrace needs, each with its reason in a comment', () => {
    const caps = boundingSet(service);
    expect(caps).toEqual(['CAP_BPF', 'CAP_PERFMON', 'CAP_SYS_ADMIN']);
    for (const c of caps) expect(unitText, c).toMatch(new RegExp(`^#\\s+${c}\\s+\\S`, 'm'));
    expect(setprivBoundingSet(caps)).toBe('-all,+bpf,+perfmon,+sys_admin');
    expect(setting(service, 'AmbientCapabilities')).toBe('');
  });

  it('has the hardening the docs describe, and none that would break Node or bpftrace', () => {
    const want: Record<string, string> = {
      User: 'root',
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      PrivateDevices: 'yes',
      ProtectKernelTunables: 'yes',
      ProtectControlGroups: 'yes',
      RestrictNamespaces: 'yes',
      RestrictAddressFamilies: 'AF_UNIX AF_INET AF_INET6 AF_NETLINK',
      Restart: 'on-failure',
      LimitMEMLOCK: 'infinity',
    };
    for (const [k, v] of Object.entries(want)) expect(setting(service, k), k).toBe(v);
    // V8 and LLVM write code at run time; hidden /proc entries would hide other users' QEMU
    expect(service.has('MemoryDenyWriteExecute')).toBe(false);
    expect(service.has('ProtectProc')).toBe(false);
    expect(memoryMaxBytes(service)).toBeGreaterThanOrEqual(256 * 1024 ** 2);
  });

  it('takes its address and options from the environment file, and the token as a credential, never on its command line', () => {
    expect(setting(service, 'EnvironmentFile')).toBe('/etc/exitscope/exporter.env');
    expect(setting(service, 'LoadCredential')).toBe('read-token:/etc/exitscope/read-token');
    expect(setting(service, 'ExecStart')).toMatch(/^\/\S+\/exitscope exporter \$\{EXITSCOPE_LISTEN\} --read-token-file %d\/read-token \$EXITSCOPE_OPTIONS$/);
    const env = readFileSync(join(DEPLOY, 'systemd/exporter.env'), 'utf8');
    expect(env).toMatch(/^EXITSCOPE_LISTEN=\S+:\d+$/m);
    expect(env).toMatch(/^EXITSCOPE_OPTIONS=/m);
    expect(env).not.toMatch(/TOKEN/);
  });
});

describe("the unit's command line", () => {
  it('is one exitscope accepts: the exporter starts its server, and stops at the machine checks at most (no KVM here), never at a usage error', () => {
    const env = readFileSync(join(DEPLOY, 'systemd/exporter.env'), 'utf8');
    const options = /^EXITSCOPE_OPTIONS=(.*)$/m.exec(env)?.[1] ?? '';
    const token = join(dir, 'read-token');
    writeFileSync(token, 'unit-test-token\n', { mode: 0o600 });
    // systemd's expansion: ${X} one word, $X split at spaces, %d the credentials directory; a port of the kernel's choice
    const line = (setting(service, 'ExecStart') ?? '').replace('${EXITSCOPE_LISTEN}', '127.0.0.1:0').replace('%d/read-token', token).replace('$EXITSCOPE_OPTIONS', options);
    const [, ...args] = line.split(/\s+/);
    const r = spawnSync('node', [join(repoRoot(), 'bin/exitscope.js'), ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, NO_COLOR: '1' } });
    expect(args.slice(0, 4)).toEqual(['exporter', '127.0.0.1:0', '--read-token-file', token]);
    expect(r.stderr).toContain('Prometheus metrics at http://127.0.0.1:');
    expect(r.stderr).not.toMatch(/error \[(USAGE|BAD_LISTEN|BAD_TOKEN\w*)\]/);
    // here the machine checks stop it (status 2); on a host that can trace it would still be running
    expect(r.status === 2 || r.signal === 'SIGTERM', `status ${r.status}, signal ${r.signal}`).toBe(true);
  });
});

describe('reading the unit', () => {
  it('takes the last value of a key, only from the section asked for, and skips comments', () => {
    const s = unitSettings('[Unit]\nMemoryMax=1G\n[Service]\n# MemoryMax=2G\nMemoryMax=512M\nMemoryMax=3K\nCapabilityBoundingSet=CAP_BPF  CAP_PERFMON\n');
    expect(memoryMaxBytes(s)).toBe(3 * 1024);
    expect(boundingSet(s)).toEqual(['CAP_BPF', 'CAP_PERFMON']);
    expect(() => boundingSet(unitSettings('[Service]\nCapabilityBoundingSet=~CAP_SYS_ADMIN\n'))).toThrow(/deny list/);
    expect(() => memoryMaxBytes(unitSettings('[Service]\nMemoryMax=50%\n'))).toThrow(/not a size/);
  });
});
