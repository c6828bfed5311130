import { execFileSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { exitStatus } from '../../src/commands/run.js';

// what the shell itself reports for a command killed by each signal
const shell = (sig: string): number => Number(execFileSync('bash', ['-c', `bash -c 'kill -${sig} $$'; echo $?`], { encoding: 'utf8' }).trim());

it.each(['SIGINT', 'SIGTERM', 'SIGKILL', 'SIGSEGV', 'SIGABRT'] as const)('a command killed by %s: the status a shell gives', (sig) => {
  expect(exitStatus(undefined, sig)).toBe(shell(sig.slice(3)));
});

it('the command\'s own status otherwise', () => {
  expect(exitStatus(3, undefined)).toBe(3);
  expect(exitStatus(0, undefined)).toBe(0);
});
