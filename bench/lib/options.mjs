// The command line of a bench script that documents itself in its header comment: `--NAME VALUE`
// options, and `--help` printing that comment (every line up to the first import, its `// `
// taken off). Checks of the values stay with each script.
import { readFileSync } from 'node:fs';

/** The script's arguments and an `opt(name, default)` reader; prints the header and exits on --help. */
export function scriptOptions(scriptUrl, argv = process.argv.slice(2)) {
  if (argv.includes('--help') || argv.includes('-h')) {
    const lines = readFileSync(new URL(scriptUrl), 'utf8').split('\n');
    process.stdout.write(lines.slice(1, lines.findIndex((l) => l.startsWith('import '))).map((l) => l.slice(3)).join('\n') + '\n');
    process.exit(0);
  }
  const opt = (name, dflt) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : dflt;
  };
  return { args: argv, opt };
}

/** `--intervals` (ms, comma-separated): each 100..60000. */
export function intervalsOption(text) {
  const intervals = text.split(',').map(Number);
  for (const i of intervals) if (!(i >= 100 && i <= 60000)) throw new Error(`--intervals: ${i} is not 100..60000 ms`);
  return intervals;
}
