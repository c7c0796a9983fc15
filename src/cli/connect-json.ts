/**
 * Non-interactive `switchboard connect`: every stdin line goes out as a text
 * message and everything that happens comes out as one JSON object per line
 * ({"type":"open"|"text"|"binary"|"close", ...}). At the end of stdin the
 * client waits for its output to drain and for replies (`--wait`), then
 * closes with 1000.
 */
import { createInterface, type Interface } from 'node:readline';
import type { WebSocket } from '../node/client.js';
import { toHex } from './hex.js';
import { connectFailureLine, exitStatusAfterClose, lostConnectionLine, type ConnectOptions } from './connect-common.js';

/** One line of output in JSON mode. */
export type JsonRecord =
  | { type: 'open'; protocol: string; extensions: string }
  | { type: 'text'; data: string }
  | { type: 'binary'; hex: string }
  | { type: 'close'; code: number; reason: string };

/** Streams the session uses; process.stdin/stdout/stderr unless a test swaps them. */
export interface SessionStreams {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  errors: NodeJS.WritableStream;
}

/** Pause reading stdin while more than this many bytes wait to be sent. */
const INPUT_HIGH_WATER = 4 * 1024 * 1024;
const POLL_MS = 10;

/** The JSON record of a received message (with `binaryType` 'nodebuffer', binary data is a Buffer). */
export function messageRecord(data: string | Buffer): JsonRecord {
  return typeof data === 'string' ? { type: 'text', data } : { type: 'binary', hex: toHex(data) };
}

/** Resolves once nothing waits to be sent, or the connection is no longer open. */
function drained(ws: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (ws.readyState !== ws.OPEN || ws.bufferedAmount === 0) resolve();
      else setTimeout(check, POLL_MS);
    };
    check();
  });
}

/** Sends lines as they come, pausing stdin while the socket is backed up. */
function pipeLines(ws: WebSocket, input: NodeJS.ReadableStream, onEnd: () => void): Interface {
  const lines = createInterface({ input, crlfDelay: Infinity, terminal: false });
  lines.on('line', (line) => {
    if (ws.readyState !== ws.OPEN) return;
    ws.send(line);
    if (ws.bufferedAmount > INPUT_HIGH_WATER) {
      lines.pause();
      void drained(ws).then(() => lines.resume());
    }
  });
  lines.on('close', onEnd);
  return lines;
}

/** Runs a JSON-lines session on a connecting `ws`; resolves with the exit status. */
export function runJsonSession(ws: WebSocket, options: ConnectOptions, streams: SessionStreams): Promise<number> {
  const emit = (record: JsonRecord): void => {
    streams.output.write(`${JSON.stringify(record)}\n`);
  };
  let opened = false;
  let closeStartedHere = false;
  let failure: unknown = null;
  let lines: Interface | null = null;
  let waitTimer: NodeJS.Timeout | null = null;

  const closeNormally = (): void => {
    if (ws.readyState !== ws.OPEN) return;
    closeStartedHere = true;
    ws.close(1000);
  };
  const onInputEnd = (): void => {
    void drained(ws).then(() => {
      if (ws.readyState === ws.OPEN) waitTimer = setTimeout(closeNormally, options.waitMs);
    });
  };
  // Ctrl-C closes properly once open; while connecting (or already closing) it quits at once.
  const onSigint = (): void => {
    if (ws.readyState === ws.OPEN && !closeStartedHere) closeNormally();
    else process.exit(130);
  };
  process.on('SIGINT', onSigint);

  return new Promise((resolve) => {
    ws.binaryType = 'nodebuffer';
    ws.addEventListener('open', () => {
      opened = true;
      if (!options.quiet) emit({ type: 'open', protocol: ws.protocol, extensions: ws.extensions });
      lines = pipeLines(ws, streams.input, onInputEnd);
    });
    ws.addEventListener('message', (event) => emit(messageRecord(event.data as string | Buffer)));
    ws.addEventListener('error', (event) => {
      failure = event.error;
    });
    ws.addEventListener('close', (event) => {
      process.off('SIGINT', onSigint);
      if (waitTimer !== null) clearTimeout(waitTimer);
      lines?.removeAllListeners('close');
      lines?.close();
      if (!opened) {
        streams.errors.write(connectFailureLine(failure, options));
        resolve(1);
        return;
      }
      if (!options.quiet) emit({ type: 'close', code: event.code, reason: event.reason });
      const lost = lostConnectionLine(event, failure);
      if (lost !== null) streams.errors.write(lost);
      resolve(exitStatusAfterClose(event, closeStartedHere));
    });
  });
}
