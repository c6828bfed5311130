#!/usr/bin/env node
// Writes probes/*.bt from src/probes/catalog.ts (npm run build first).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const repo = new URL('..', import.meta.url).pathname;
const { PROBE_SCRIPTS, probeScriptText } = await import(join(repo, 'dist/src/probes/catalog.js'));
for (const p of PROBE_SCRIPTS) {
  writeFileSync(join(repo, 'probes', p.file), probeScriptText(p));
  console.log(`probes/${p.file}`);
}
