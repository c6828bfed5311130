#!/usr/bin/env node
// Re-records the real fixtures under test/fixtures/ from the lab.
// Run from the checkout on the host:  npm run build && node scripts/record-fixtures.mjs
// It boots the lab (exitscope lab --run) and writes each fixture with its provenance.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const repo = new URL('..', import.meta.url).pathname;

if (!process.env.EXITSCOPE_LAB) {
  // On the host: run this same script inside the lab (the checkout is writable there).
  execFileSync(join(repo, 'bin/exitscope.js'), ['lab', '--writable', repo, '--run', `node ${join(repo, 'scripts/record-fixtures.mjs')}`], { stdio: 'inherit', cwd: repo });
  process.exit(0);
}

const { oracleArgv } = await import(join(repo, 'dist/src/lab/oracle.js'));
const out = join(repo, 'test/fixtures/oracle');
mkdirSync(out, { recursive: true });
const sh = (cmd, args) => execFileSync(cmd, args, { encoding: 'utf8' }).trim();
const provenance = {
  recordedBy: 'scripts/record-fixtures.mjs',
  kernel: sh('uname', ['-r']),
  perf: sh('perf', ['--version']),
  bpftrace: sh('bpftrace', ['--version']),
  npt: sh('cat', ['/sys/module/kvm_amd/parameters/npt']),
};

for (const [name, workload] of [['io-1009', ['io', '1009']], ['npf-1031', ['npf', '1031']]]) {
  const csv = `/tmp/oracle-${name}.csv`;
  const argv = oracleArgv([join(repo, 'build/exitscope-workload'), ...workload], csv);
  const tally = execFileSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  writeFileSync(join(out, `${name}.perf.csv`), sh('cat', [csv]) + '\n');
  writeFileSync(join(out, `${name}.tally.json`), tally);
  writeFileSync(join(out, `${name}.provenance.json`), JSON.stringify({ ...provenance, command: argv.join(' ') }, null, 2) + '\n');
  console.log(`recorded ${name}`);
}
