#!/usr/bin/env node
// Re-records the real fixtures under test/fixtures/ from the lab.
// Run from the checkout on the host:  npm run build && node scripts/record-fixtures.mjs
// It boots the lab (once with npt on, once with npt off) and writes each fixture with its provenance.
// One run recording only (and only the boot it needs):  node scripts/record-fixtures.mjs --only run-npf-1031-npt-on
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const repo = new URL('..', import.meta.url).pathname;
const fixtures = join(repo, 'test/fixtures');

// The recordings of `exitscope run` (4. below), per npt setting: the same npf workload on both
// sides is what `exitscope diff` and the gate's tests compare (nested paging on vs off).
const RUN_SCENARIOS = {
  on: [['mix', '3', '--vcpus', '2'], ['npf', '1031']],
  off: [['npf', '1031']],
};
const recordingName = (scenario, npt) => `run-${scenario.join('-').replaceAll('--', '')}-npt-${npt}`;
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;
if (onlyAt >= 0 && !Object.entries(RUN_SCENARIOS).some(([npt, list]) => list.some((s) => recordingName(s, npt) === only))) {
  console.error(`--only: not a run recording of this script: ${only}`);
  process.exit(2);
}

if (!process.env.EXITSCOPE_LAB) {
  // On the host: run this same script inside the lab (the checkout is writable there).
  for (const npt of ['on', 'off']) {
    if (only && !only.endsWith(`-npt-${npt}`)) continue;
    const script = `node ${join(repo, 'scripts/record-fixtures.mjs')}${only ? ` --only ${only}` : ''}`;
    execFileSync(join(repo, 'bin/exitscope.js'), ['lab', '--npt', npt, '--writable', repo, '--run', script], { stdio: 'inherit', cwd: repo });
  }
  process.exit(0);
}

const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: 'utf8', ...opts }).trim();
const npt = sh('cat', ['/sys/module/kvm_amd/parameters/npt']) === 'Y' ? 'on' : 'off';
const provenance = {
  recordedBy: 'scripts/record-fixtures.mjs',
  kernel: sh('uname', ['-r']),
  perf: sh('perf', ['--version']),
  bpftrace: sh('bpftrace', ['--version']),
  npt,
};
const workload = join(repo, 'build/exitscope-workload');
const write = (dir, name, text, extra) => {
  mkdirSync(join(fixtures, dir), { recursive: true });
  writeFileSync(join(fixtures, dir, name), text);
  if (extra) writeFileSync(join(fixtures, dir, `${name}.provenance.json`), `${JSON.stringify({ ...provenance, ...extra }, null, 2)}\n`);
  console.log(`recorded ${dir}/${name}`);
};

// 1. perf stat oracle output and workload tallies (npt on only)
const { oracleArgv } = await import(join(repo, 'dist/src/lab/oracle.js'));
if (npt === 'on' && !only) {
  for (const [name, args] of [['io-1009', ['io', '1009']], ['npf-1031', ['npf', '1031']]]) {
    const csv = `/tmp/oracle-${name}.csv`;
    const argv = oracleArgv([workload, ...args], csv);
    const tally = sh(argv[0], argv.slice(1));
    write('oracle', `${name}.perf.csv`, `${readFileSync(csv, 'utf8').trim()}\n`);
    write('oracle', `${name}.tally.json`, `${tally}\n`, { command: argv.join(' ') });
  }
  // 2. tracefs format files of the kvm tracepoints (6.1)
  for (const tp of ['kvm_exit', 'kvm_entry', 'kvm_page_fault']) {
    write('tracefs', `${tp}.format`, readFileSync(`/sys/kernel/tracing/events/kvm/${tp}/format`, 'utf8'));
  }
  write('tracefs', 'available_filter_functions.kvm', sh('sh', ['-c', 'grep page_fault /sys/kernel/tracing/available_filter_functions']) + '\n', { command: 'grep page_fault available_filter_functions' });
}

// 3. raw bpftrace -f json output of exitscope's program around a workload
if (!only) {
const { buildProgram } = await import(join(repo, 'dist/src/probes/program.js'));
const { detectCapabilities } = await import(join(repo, 'dist/src/probes/capabilities.js'));
const caps = await detectCapabilities();
const program = buildProgram({ intervalMs: 200, latency: true, pageFaults: true, handlers: caps.handlers, detailPerInterval: 3 });
writeFileSync('/tmp/exitscope-fixture.bt', program.text);
const scenario = npt === 'on' ? ['mix', '3', '--vcpus', '2'] : ['npf', '1031'];
const raw = sh('bpftrace', ['-f', 'json', '/tmp/exitscope-fixture.bt', '-c', [workload, ...scenario].join(' ')], { env: { ...process.env, BPFTRACE_MAP_KEYS_MAX: '262144' }, maxBuffer: 64 << 20 });
const rawName = `${scenario.join('-').replaceAll('--', '')}-npt-${npt}.bpftrace.jsonl`;
write('bpftrace', rawName, `${raw}\n`, { command: `bpftrace -f json exitscope.bt -c '${[workload, ...scenario].join(' ')}'`, handlers: program.handlers });
write('bpftrace', rawName.replace('.bpftrace.jsonl', '.bt'), program.text);
}

// 4. recordings of exitscope run, with perf stat around each
for (const scenario of RUN_SCENARIOS[npt]) {
  const recName = recordingName(scenario, npt);
  if (only && recName !== only) continue;
  const csv = `/tmp/${recName}.csv`;
  const rec = `/tmp/${recName}.jsonl`;
  const argv = oracleArgv([join(repo, 'bin/exitscope.js'), 'run', '--no-output', '-o', rec, '-f', 'json', '--report-file', '/dev/null', '--', workload, ...scenario], csv);
  const cleaned = argv.filter((a) => a !== '--no-output');
  sh(cleaned[0], cleaned.slice(1));
  copyFileSync(rec, join(fixtures, 'recordings', `${recName}.jsonl`));
  write('recordings', `${recName}.perf.csv`, `${readFileSync(csv, 'utf8').trim()}\n`, { command: cleaned.join(' ') });
}
