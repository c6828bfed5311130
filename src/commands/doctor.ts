/** `exitscope doctor`: what this machine can trace, and the fix for each missing piece. */
import { blocking, detectCapabilities } from '../probes/capabilities.js';
import { trialAttach } from '../doctor/trial-attach.js';
import { table } from '../report/format.js';

export async function doctorCommand(o: { json: boolean; trial: boolean }): Promise<number> {
  const c = await detectCapabilities();
  // the files say what should work; the trial shows that it does (compile and attach what top runs)
  if (o.trial && !blocking(c)) {
    process.stderr.write('doctor: trying the program top runs (compile and attach, then stop)...\n');
    c.checks.push(await trialAttach(c));
  }
  if (o.json) process.stdout.write(`${JSON.stringify(c, null, 2)}\n`);
  else {
    process.stdout.write(`exitscope doctor: kernel ${c.kernel}, ${c.vendor ? `kvm_${c.vendor}` : 'no KVM vendor module'}${c.tdp === undefined ? '' : `, nested paging ${c.tdp ? 'on' : 'off'}`}\n\n`);
    process.stdout.write(`${table(['CHECK', 'STATUS', 'DETAIL'], c.checks.map((k) => [k.name, k.ok ? 'ok' : k.required ? 'MISSING' : 'degraded', k.detail]), [false, false, false])}\n`);
    const fixes = c.checks.filter((k) => !k.ok && k.fix);
    if (fixes.length) process.stdout.write(`\n${fixes.map((k) => `fix ${k.name}: ${k.fix}`).join('\n')}\n`);
    const stop = blocking(c);
    process.stdout.write(stop ? `\nexitscope cannot trace here (${stop.name}). No KVM on this machine? Try: exitscope lab --run 'exitscope doctor'\n` : '\nexitscope can trace here.\n');
  }
  return blocking(c) ? 1 : 0;
}
