#!/usr/bin/env node
// The `imagemounter` command: a thin shell over the library entry. One line on stderr
// and a non-zero exit for any error; --debug adds the stack.
import { parseCliArgs, usage, CliUsageError } from './args.js';
import { runCommand } from './commands.js';

const argv = process.argv.slice(2);
const debug = argv.includes('--debug');

try {
  const args = parseCliArgs(argv);
  if (args.help) {
    process.stdout.write(usage);
  } else {
    await runCommand(args);
  }
} catch (err) {
  process.exitCode = err instanceof CliUsageError ? 2 : 1;
  if (debug && err instanceof Error && err.stack) {
    process.stderr.write(`${err.stack}\n`);
    if (err.cause) process.stderr.write(`caused by: ${String((err.cause as Error)?.stack ?? err.cause)}\n`);
  } else {
    process.stderr.write(`imagemounter: ${oneLine(err)}\n`);
  }
}

function oneLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/\s*\n\s*/g, ' ');
}
