// What every subcommand does with its arguments: commander parses them (with exitOverride), and help or a
// parse error ends the command with 0 or 2 (commander has already printed the message).
import type { Command } from 'commander';

/** Parses `argv` into `program`; returns the exit code when parsing ended the command, else undefined. */
export function parseSubcommand(program: Command, argv: string[]): number | undefined {
  try {
    program.parse(argv, { from: 'user' });
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code === 'commander.helpDisplayed' ? 0 : 2;
  }
}
