/**
 * Command lines that do not parse: `exitscope: error [USAGE]: ...` and `  fix: see \`exitscope
 * COMMAND --help\`` on stderr, status 2 (README: errors a user can fix exit 2 with both lines);
 * --help and --version still succeed. main() runs in this process: parse errors stop before any
 * command's action, so nothing is traced or written.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXPORTER_INTERVAL_MS, main } from '../../src/cli.js';

let stderr = '';
let stdout = '';
beforeEach(() => {
  stderr = '';
  stdout = '';
  vi.spyOn(process.stderr, 'write').mockImplementation(((s: string) => {
    stderr += s;
    return true;
  }) as never);
  vi.spyOn(process.stdout, 'write').mockImplementation(((s: string) => {
    stdout += s;
    return true;
  }) as never);
});
afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

async function cli(...args: string[]): Promise<number> {
  process.exitCode = undefined;
  await main(['node', 'exitscope', ...args]);
  return Number(process.exitCode ?? 0);
}

describe('option parse errors: error [USAGE], fix:, status 2', () => {
  it.each([
    [['record', '-o', 'x.jsonl', '--bogus'], /unknown option '--bogus'/, 'exitscope record'],
    [['record'], /required option '-o, --output <file>' not specified/, 'exitscope record'],
    [['top', '--interval'], /option '-i, --interval <ms>' argument missing/, 'exitscope top'],
    [['top', '--interval', '5'], /--interval takes 100\.\.60000, not 5/, 'exitscope top'],
    [['top', '-w', '5'], /argument '5' is invalid.*Allowed choices are 1, 10, 60/, 'exitscope top'],
    [['flame', '--format', 'png'], /--format takes folded, svg, html, not 'png'/, 'exitscope flame'],
    [['frobnicate'], /unknown command 'frobnicate'/, 'exitscope'],
    [['replay'], /missing required argument 'file'/, 'exitscope replay'],
    [['report', 'a.jsonl', 'b.jsonl'], /too many arguments for 'report'/, 'exitscope report'],
    [['--bogus'], /unknown option '--bogus'/, 'exitscope'],
  ])('%j', async (args, message, command) => {
    expect(await cli(...args)).toBe(2);
    const lines = stderr.trimEnd().split('\n');
    expect(lines.at(-2)).toMatch(/^exitscope: error \[USAGE\]: /);
    expect(lines.at(-2)).toMatch(message);
    expect(lines.at(-1)).toBe(`  fix: see \`${command} --help\``);
    expect(stderr).not.toMatch(/^error:/m); // commander's own line is not printed as well
  });

  it('no command at all: the help, then the USAGE lines, status 2', async () => {
    expect(await cli()).toBe(2);
    expect(stderr).toMatch(/^Usage: exitscope/m);
    expect(stderr).toMatch(/exitscope: error \[USAGE\]: a command is needed\n {2}fix: see `exitscope --help`\n$/);
  });
});

describe('help and version are not errors', () => {
  it.each([[['--help']], [['record', '--help']], [['help', 'flame']], [['--version']]])('%j: status 0, nothing on stderr', async (args) => {
    expect(await cli(...args)).toBe(0);
    expect(stderr).toBe('');
    expect(stdout.length).toBeGreaterThan(0);
  });
});

describe('the interval bpftrace prints at, by default', () => {
  // the views redraw each second; the exporter reads the kernel as often as Prometheus usually scrapes
  it.each([
    ['top', 1000],
    ['run', 1000],
    ['serve', 1000],
    ['exporter', EXPORTER_INTERVAL_MS],
  ])('%s: -i defaults to %i ms (its --help says so)', async (command, ms) => {
    expect(await cli(command, '--help')).toBe(0);
    expect(stdout.replace(/\s+/g, ' ')).toMatch(new RegExp(`-i, --interval <ms> how often bpftrace prints its maps[^(]*(\\([^)]*\\) )?\\(default: ${ms}\\)`));
  });

  it('the exporter\'s is 15 s, deploy/prometheus\' scrape interval', () => {
    const yml = readFileSync(join(import.meta.dirname, '../../deploy/prometheus/prometheus.yml'), 'utf8');
    expect(yml).toMatch(/scrape_interval: 15s/);
    expect(EXPORTER_INTERVAL_MS).toBe(15_000);
  });
});
