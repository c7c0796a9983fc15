#!/usr/bin/env node
/**
 * The `switchboard` command. Exit codes: 0 success, 1 runtime failure (e.g.
 * the port is taken), 2 usage error.
 */
import { UsageError } from './args.js';
import { ECHO_HELP, runEcho } from './echo.js';

const HELP = `Usage: switchboard <command> [options]

Commands:
  echo      run an echo server (any path; GET / serves a page that talks to it)

Run "switchboard <command> --help" for the options of a command.
`;

const commands: Record<string, { run: (argv: string[]) => Promise<void>; help: string }> = {
  echo: { run: runEcho, help: ECHO_HELP },
};

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(HELP);
    return;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`switchboard: unknown command "${name}"\n\n${HELP}`);
    process.exit(2);
  }
  try {
    await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`switchboard ${name}: ${error.message}\n\n${command.help}`);
      process.exit(2);
    }
    const message = (error as NodeJS.ErrnoException).code === 'EADDRINUSE'
      ? `${(error as Error).message} — another process uses this port; pick another with --port`
      : (error as Error).message;
    process.stderr.write(`switchboard ${name}: ${message}\n`);
    process.exit(1);
  }
}

await main(process.argv.slice(2));
