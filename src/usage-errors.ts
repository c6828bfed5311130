/**
 * Command-line parse errors (unknown option or command, missing or bad value, too many
 * arguments) become UserError USAGE: `error [USAGE]` and a `fix:` naming the command's --help,
 * status 2, like every other error a user can fix. Commander would print its own line and exit 1.
 * --help and --version are not errors: they still exit 0.
 */
import { type Command, CommanderError } from 'commander';
import { UserError } from './errors.js';

/** Commander's text, without its own "error: " prefix; a suggestion stays, on the same line. */
function messageOf(e: CommanderError): string {
  if (e.code === 'commander.help') return 'a command is needed'; // help was shown because none was given
  return e.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
}

function usageError(e: CommanderError, commandLine: string): UserError {
  return new UserError('USAGE', messageOf(e), `see \`${commandLine} --help\``);
}

/**
 * Makes `command` and every subcommand throw instead of exiting: UserError USAGE for a parse
 * error, commander's own CommanderError (exitCode 0) for --help and --version. Call it once
 * every subcommand is defined.
 */
export function throwUsageErrors(command: Command, commandLine = command.name()): void {
  command.exitOverride((e) => {
    if (e.exitCode === 0) throw e;
    throw usageError(e, commandLine);
  });
  // the error is printed once, by main, in our format (no "error:" line from commander first)
  command.configureOutput({ outputError: () => undefined });
  for (const sub of command.commands) throwUsageErrors(sub, `${commandLine} ${sub.name()}`);
}

/** --help, --version, `help`: commander printed what was asked for; not an error. */
export function isHelpOrVersion(e: unknown): boolean {
  return e instanceof CommanderError && e.exitCode === 0;
}
