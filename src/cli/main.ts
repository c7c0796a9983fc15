#!/usr/bin/env node
/**
 * The `switchboard` command. Exit codes: 0 success, 1 runtime failure (e.g.
 * the port is taken, a connection failed), 2 usage error (no command at all
 * included: the help then goes to stderr).
 */
import { UsageError } from './args.js';
import { BENCH_HELP, runBench } from './bench.js';
import type { Command } from './command.js';
import { CONNECT_HELP, runConnect } from './connect.js';
import { ECHO_HELP, runEcho } from './echo.js';
import { runServe, SERVE_HELP } from './serve.js';
import { closest } from './suggest.js';

/** Every command, in the order `switchboard help` lists them. */
const COMMANDS: readonly Command[] = [
  { name: 'echo', summary: 'run an echo server (any path; GET / serves a page that talks to it)', example: 'switchboard echo --port 8080', help: ECHO_HELP, run: runEcho },
  { name: 'serve', summary: 'run the real-time server with the demo apps (chat, dashboard, whiteboard)', example: 'switchboard serve --port 8080', help: SERVE_HELP, run: runServe },
  { name: 'connect', summary: 'talk to a WebSocket server from the terminal, or script it with JSON lines', example: 'switchboard connect ws://127.0.0.1:8080/', help: CONNECT_HELP, run: runConnect },
  { name: 'bench', summary: 'load-test an echo server: throughput, latency, checked echoes', example: 'switchboard bench ws://127.0.0.1:8080/ --connections 50 --duration 5', help: BENCH_HELP, run: runBench },
];

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length), 'help'.length) + 2;
  const list = COMMANDS.map((command) => `  ${command.name.padEnd(width)}${command.summary}`);
  const examples = COMMANDS.map((command) => `  ${command.example}`);
  return [
    'Usage: switchboard <command> [options]',
    '',
    'Commands:',
    ...list,
    `  ${'help'.padEnd(width)}show this help, or a command's: switchboard help <command>`,
    '',
    'Run "switchboard <command> --help" for the options of a command.',
    '',
    'Examples:',
    ...examples,
    '',
  ].join('\n');
}

function findCommand(name: string): Command | undefined {
  return COMMANDS.find((command) => command.name === name);
}

function unknownCommand(name: string): string {
  const names = COMMANDS.map((command) => command.name);
  const suggestion = closest(name, names);
  const hint = suggestion !== null ? `did you mean "${suggestion}"?` : `the commands are ${names.join(', ')}`;
  return `switchboard: unknown command "${name}" — ${hint}\nRun "switchboard help" for the list of commands.\n`;
}

function usageLine(help: string): string {
  return help.split('\n', 1)[0]!;
}

/** Exits with `code` once what was written to stdout and stderr has been handed over. */
function exitWhenFlushed(code: number): void {
  process.exitCode = code;
  let pending = 2;
  const done = (): void => {
    pending -= 1;
    if (pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}

function runtimeFailure(name: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const hint = (error as NodeJS.ErrnoException | null)?.code === 'EADDRINUSE' ? ' — another process uses this port; pick another with --port' : '';
  return `switchboard ${name}: ${message}${hint}\n`;
}

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined) return exitWhenFlushed(writeError(`switchboard: no command given\n\n${mainHelp()}`));
  if (name === '-h' || name === '--help' || (name === 'help' && rest.length === 0)) {
    process.stdout.write(mainHelp());
    return;
  }
  if (name === 'help') {
    const command = findCommand(rest[0]!);
    if (command === undefined) return exitWhenFlushed(writeError(unknownCommand(rest[0]!)));
    process.stdout.write(command.help);
    return;
  }
  const command = findCommand(name);
  if (command === undefined) return exitWhenFlushed(writeError(unknownCommand(name)));
  try {
    const status = await command.run(rest);
    if (typeof status === 'number') exitWhenFlushed(status);
  } catch (error) {
    if (error instanceof UsageError) {
      const usage = `${usageLine(command.help)}\nRun "switchboard ${name} --help" for the options.\n`;
      exitWhenFlushed(writeError(`switchboard ${name}: ${error.message}\n${usage}`, 2));
      return;
    }
    exitWhenFlushed(writeError(runtimeFailure(name, error), 1));
  }
}

/** Writes to stderr; returns the exit status to use (2 unless told). */
function writeError(text: string, status = 2): number {
  process.stderr.write(text);
  return status;
}

await main(process.argv.slice(2));
