/**
 * Interactive `switchboard connect` (stdin is a terminal): a prompt where
 * each line is sent as a text message, slash commands for pings, binary
 * messages and closing, and incoming messages printed above the prompt as
 * they arrive.
 */
import { clearLine, createInterface, cursorTo, type Interface } from 'node:readline';
import type { WebSocket } from '../node/client.js';
import type { CloseEvent } from '../node/events.js';
import { parseHex, toHex } from './hex.js';
import { styleFor, type Style } from './style.js';
import { connectFailureLine, exitStatusAfterClose, lostConnectionLine, type ConnectOptions } from './connect-common.js';

/** What a line typed at the prompt asks for. */
export type PromptCommand =
  | { kind: 'text'; text: string }
  | { kind: 'binary'; bytes: Uint8Array }
  | { kind: 'ping'; data: string }
  | { kind: 'close'; code: number; reason: string }
  | { kind: 'help' }
  | { kind: 'invalid'; message: string };

/** The commands, as `/help` prints them. */
export const PROMPT_HELP = [
  '/ping [data]            send a ping; the pong is shown with its round-trip time',
  '/close [code] [reason]  close the connection (code 1000 by default), e.g. /close 4000 bye',
  '/binary <hex>           send a binary message, e.g. /binary 48 65 6c 6c 6f',
  '/help                   show this list',
  '//text                  send a text message that starts with "/"',
  'Ctrl-D or Ctrl-C        close with 1000 and quit',
].join('\n');

/** Longest binary message shown in full; longer ones are cut with a byte count. */
const MAX_HEX_SHOWN = 256;

function parseClose(rest: string): PromptCommand {
  const match = /^(\d+)(?:\s+([\s\S]*))?$/.exec(rest);
  if (match) return { kind: 'close', code: Number(match[1]), reason: match[2] ?? '' };
  return { kind: 'close', code: 1000, reason: rest };
}

/** Interprets one line typed at the prompt. */
export function parsePromptLine(line: string): PromptCommand {
  if (!line.startsWith('/')) return { kind: 'text', text: line };
  if (line.startsWith('//')) return { kind: 'text', text: line.slice(1) };
  const match = /^\/(\S+)\s*([\s\S]*)$/.exec(line);
  const name = match?.[1] ?? '';
  const rest = match?.[2] ?? '';
  switch (name) {
    case 'ping':
      return { kind: 'ping', data: rest };
    case 'close':
      return parseClose(rest);
    case 'binary': {
      const bytes = parseHex(rest);
      if (bytes === null) return { kind: 'invalid', message: '/binary expects whole bytes in hex, e.g. /binary 48 65 6c 6c 6f' };
      return { kind: 'binary', bytes };
    }
    case 'help':
    case '?':
      return { kind: 'help' };
    default:
      return { kind: 'invalid', message: `unknown command /${name} — /help lists the commands; start a line with // to send it as text` };
  }
}

/** A received message as a line: "< text" or "< [binary, N bytes] 00 01 …". */
export function formatIncoming(data: string | Buffer, style: Style): string {
  const marker = style.green('<');
  if (typeof data === 'string') return `${marker} ${data}`;
  const shown = toHex(data.subarray(0, MAX_HEX_SHOWN), ' ');
  const more = data.length > MAX_HEX_SHOWN ? ` … (${data.length - MAX_HEX_SHOWN} more bytes)` : '';
  return `${marker} ${style.cyan(`[binary, ${data.length} bytes]`)} ${shown}${more}`;
}

/** Control-frame payloads: as text when printable UTF-8, as hex otherwise. */
function formatPayload(payload: Buffer): string {
  const text = payload.toString('utf8');
  return /^[^\x00-\x1f\x7f\ufffd]*$/.test(text) ? text : `[hex] ${toHex(payload, ' ')}`;
}

function formatOpen(ws: WebSocket, style: Style): string {
  const protocol = ws.protocol === '' ? 'none' : ws.protocol;
  const extensions = ws.extensions === '' ? 'none' : ws.extensions;
  return style.dim(`* connected to ${ws.url} — subprotocol: ${protocol}; extensions: ${extensions}`);
}

function formatClose(event: CloseEvent, style: Style): string {
  const reason = event.reason === '' ? '' : ` ${event.reason}`;
  const kind = event.code === 1006 ? 'abnormal: no closing handshake' : event.wasClean ? 'clean' : 'not clean';
  const line = `* closed: ${event.code}${reason} (${kind})`;
  return event.code === 1000 || event.code === 1001 ? style.dim(line) : style.yellow(line);
}

/** Prints lines above the prompt, keeping what the user is typing. */
class PromptConsole {
  #lines: Interface | null = null;
  readonly #output: NodeJS.WriteStream;

  constructor(output: NodeJS.WriteStream) {
    this.#output = output;
  }

  attach(lines: Interface | null): void {
    this.#lines = lines;
  }

  print(text: string): void {
    const lines = this.#lines;
    if (lines === null || !this.#output.isTTY) {
      this.#output.write(`${text}\n`);
      return;
    }
    cursorTo(this.#output, 0);
    clearLine(this.#output, 0);
    this.#output.write(`${text}\n`);
    lines.prompt(true);
  }
}

/** Streams of an interactive session: a terminal in, a terminal (or anything) out. */
export interface InteractiveStreams {
  input: NodeJS.ReadStream;
  output: NodeJS.WriteStream;
  errors: NodeJS.WritableStream;
}

/** Runs the prompt on a connecting `ws`; resolves with the exit status once the connection closed. */
export function runInteractiveSession(ws: WebSocket, options: ConnectOptions, streams: InteractiveStreams): Promise<number> {
  const style = styleFor(streams.output);
  const out = new PromptConsole(streams.output);
  const pings: number[] = [];
  let opened = false;
  let closeStartedHere = false;
  let failure: unknown = null;
  let lines: Interface | null = null;

  const report = (text: string): void => out.print(style.red(`! ${text}`));
  const notice = (text: string): void => {
    if (!options.quiet) out.print(text);
  };

  const startClose = (code: number, reason: string): void => {
    try {
      ws.close(code, reason);
      closeStartedHere = true;
      notice(style.dim(`* closing with ${code}${reason === '' ? '' : ` ${reason}`}…`));
    } catch (error) {
      report((error as Error).message);
    }
  };

  const run = (command: PromptCommand): void => {
    if (ws.readyState !== ws.OPEN && command.kind !== 'help' && command.kind !== 'invalid') {
      report('the connection is closing; nothing more can be sent');
      return;
    }
    try {
      switch (command.kind) {
        case 'text':
          ws.send(command.text);
          break;
        case 'binary':
          ws.send(command.bytes);
          out.print(style.dim(`> [binary, ${command.bytes.length} bytes] ${toHex(command.bytes, ' ')}`));
          break;
        case 'ping':
          ws.ping(command.data);
          pings.push(performance.now());
          break;
        case 'close':
          startClose(command.code, command.reason);
          break;
        case 'help':
          out.print(PROMPT_HELP);
          break;
        case 'invalid':
          report(command.message);
          break;
      }
    } catch (error) {
      report((error as Error).message);
    }
  };

  const startPrompt = (): Interface => {
    const prompt = createInterface({ input: streams.input, output: streams.output, prompt: style.enabled ? style.bold('> ') : '> ', historySize: 200 });
    prompt.on('line', (line) => {
      run(parsePromptLine(line));
      if (ws.readyState === ws.OPEN) prompt.prompt();
    });
    // Ctrl-D, or Ctrl-C: close properly; a second Ctrl-C while closing quits at once.
    prompt.on('close', () => {
      lines = null;
      out.attach(null);
      if (ws.readyState === ws.OPEN) startClose(1000, '');
    });
    prompt.on('SIGINT', () => {
      if (ws.readyState === ws.OPEN) startClose(1000, '');
      else prompt.close();
    });
    return prompt;
  };

  return new Promise((resolve) => {
    ws.binaryType = 'nodebuffer';
    if (!options.quiet) streams.output.write(`${style.dim(`* connecting to ${options.url.href}…`)}\n`);
    ws.addEventListener('open', () => {
      opened = true;
      notice(formatOpen(ws, style));
      notice(style.dim('* type a message and press Enter to send it; /help lists the commands'));
      lines = startPrompt();
      out.attach(lines);
      lines.prompt();
    });
    ws.addEventListener('message', (event) => out.print(formatIncoming(event.data as string | Buffer, style)));
    ws.addEventListener('pong', (event) => {
      const sentAt = pings.shift();
      const rtt = sentAt === undefined ? '' : ` (${(performance.now() - sentAt).toFixed(1)} ms)`;
      out.print(`${style.yellow('*')} pong${rtt}: ${formatPayload(event.data)}`);
    });
    ws.addEventListener('error', (event) => {
      failure = event.error;
    });
    ws.addEventListener('close', (event) => {
      out.attach(null);
      if (lines !== null) {
        cursorTo(streams.output, 0);
        clearLine(streams.output, 0);
        lines.removeAllListeners('close');
        lines.close();
      }
      if (!opened) {
        streams.errors.write(connectFailureLine(failure, options));
        resolve(1);
        return;
      }
      notice(formatClose(event, style));
      const lost = lostConnectionLine(event, failure);
      if (lost !== null) streams.errors.write(lost);
      resolve(exitStatusAfterClose(event, closeStartedHere));
    });
  });
}
