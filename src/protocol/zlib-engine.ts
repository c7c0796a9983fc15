/**
 * Synchronous raw DEFLATE streams that keep their state between messages, as
 * permessage-deflate needs them (RFC 7692 §7.2): compress a message and flush
 * it to a byte boundary (Z_SYNC_FLUSH), inflate a message with a bound on its
 * output checked while inflating, keep or reset the LZ77 window, and free the
 * zlib memory when asked.
 *
 * Node's public zlib API is either asynchronous (thread pool) or one-shot
 * (`inflateRawSync`, which cannot keep a window between messages). For small
 * messages the thread-pool round trip costs more than the compression itself,
 * so these engines drive the native zlib handle of a Node zlib stream
 * synchronously (`handle.writeSync`, the call Node's own `*Sync` functions
 * use). `isSyncZlibAvailable()` reports whether this runtime offers it;
 * permessage-deflate is not negotiated where it does not.
 */
import zlib from 'node:zlib';

const { Z_SYNC_FLUSH } = zlib.constants;

/** The parts of a Node zlib stream the engines use. */
interface NativeZlibHandle {
  writeSync(flush: number, input: Uint8Array, inOffset: number, inLength: number, output: Uint8Array, outOffset: number, outLength: number): void;
  reset(): void;
}
interface NativeZlibStream {
  _handle: NativeZlibHandle | null;
  _writeState: Uint32Array;
  destroyed: boolean;
  /** The error the stream was destroyed with, if any. */
  errored: Error | null;
  on(event: 'error', listener: (error: Error) => void): unknown;
  close(): void;
}

let available: boolean | undefined;

/** True when this runtime lets zlib streams run synchronously with kept state. */
export function isSyncZlibAvailable(): boolean {
  if (available === undefined) {
    const probe = zlib.createInflateRaw() as unknown as Partial<NativeZlibStream>;
    available = typeof probe._handle?.writeSync === 'function' && probe._writeState instanceof Uint32Array;
    (probe as NativeZlibStream).close();
  }
  return available;
}

/** zlib rejected the input (corrupt compressed data). */
export class ZlibDataError extends Error {}

/** The output would exceed the caller's limit; nothing past it was kept. */
export class ZlibLimitError extends Error {}

const MAX_OUTPUT_CHUNK = 64 * 1024;
/**
 * The engines write into buffers of their own, so the stream's own output
 * buffer (16 KiB by default, per stream) is made as small as zlib allows.
 */
const STREAM_CHUNK_SIZE = zlib.constants.Z_MIN_CHUNK;

abstract class SyncZlibStream {
  private stream: NativeZlibStream | null = null;
  private error: Error | null = null;

  protected abstract create(): NativeZlibStream;

  /** True while zlib memory is allocated. */
  get allocated(): boolean {
    return this.stream !== null;
  }

  private open(): NativeZlibStream {
    if (this.stream) return this.stream;
    const stream = this.create();
    // zlib reports a failure by destroying the stream at once and emitting
    // 'error' a tick later, when this engine may already run a new stream:
    // only an error of the current stream counts.
    stream.on('error', (error) => {
      if (this.stream === stream) this.error = error;
    });
    this.stream = stream;
    return stream;
  }

  /**
   * Runs `input` through zlib with Z_SYNC_FLUSH and returns all the output.
   * Throws `ZlibLimitError` as soon as the output passes `limit` bytes (the
   * stream is then released), `ZlibDataError` for corrupt input. `ended`
   * reports whether the stream hit its end (a final block) before consuming
   * everything.
   */
  protected process(input: Uint8Array, limit: number, outputGuess: number): { output: Buffer; ended: boolean } {
    const stream = this.open();
    const handle = stream._handle!;
    const state = stream._writeState;
    const chunks: Buffer[] = [];
    let total = 0;
    let inOffset = 0;
    let inLength = input.length;
    let chunkSize = Math.max(64, Math.min(outputGuess, MAX_OUTPUT_CHUNK));
    for (;;) {
      const out = Buffer.allocUnsafe(chunkSize);
      handle.writeSync(Z_SYNC_FLUSH, input, inOffset, inLength, out, 0, chunkSize);
      if (this.error || stream.destroyed) {
        const message = (this.error ?? stream.errored)?.message ?? 'zlib failed';
        this.release();
        throw new ZlibDataError(message);
      }
      const availableOut = state[0]!;
      const availableIn = state[1]!;
      const produced = chunkSize - availableOut;
      inOffset += inLength - availableIn;
      inLength = availableIn;
      total += produced;
      if (total > limit) {
        this.release();
        throw new ZlibLimitError(`output over ${limit} bytes`);
      }
      if (produced > 0) chunks.push(produced === chunkSize ? out : out.subarray(0, produced));
      if (availableOut === 0) {
        chunkSize = MAX_OUTPUT_CHUNK;
        continue;
      }
      const output = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
      return { output, ended: inLength > 0 };
    }
  }

  /** Forgets the LZ77 window (no context takeover); keeps the memory for reuse. */
  reset(): void {
    this.stream?._handle?.reset();
  }

  /** Frees the zlib memory; the next use allocates it again. */
  release(): void {
    const stream = this.stream;
    this.stream = null;
    this.error = null;
    stream?.close();
  }
}

const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

export interface DeflateSettings {
  level: number;
  memLevel: number;
  windowBits: number;
}

/** Compresses messages (raw DEFLATE, byte-aligned, without the 00 00 ff ff tail). */
export class SyncDeflater extends SyncZlibStream {
  private readonly settings: DeflateSettings;

  constructor(settings: DeflateSettings) {
    super();
    this.settings = settings;
  }

  protected create(): NativeZlibStream {
    return zlib.createDeflateRaw({ ...this.settings, chunkSize: STREAM_CHUNK_SIZE }) as unknown as NativeZlibStream;
  }

  /** The compressed form of one message (RFC 7692 §7.2.1). */
  compress(data: Uint8Array): Buffer {
    const { output } = this.process(data, Number.MAX_SAFE_INTEGER, data.length + 64);
    // Nothing new to flush (an empty message after others): the message is then
    // an empty stored block, 00 00 00 ff ff, which is 00 without its tail.
    if (output.length === 0) return Buffer.from([0x00]);
    // A sync flush ends with an empty stored block, 00 00 ff ff, that the wire format leaves out.
    const end = output.length - 4;
    if (end >= 0 && output[end] === 0 && output[end + 1] === 0 && output[end + 2] === 0xff && output[end + 3] === 0xff) {
      return output.subarray(0, end);
    }
    return output;
  }
}

/** Decompresses messages, bounded. */
export class SyncInflater extends SyncZlibStream {
  private readonly windowBits: number;

  constructor(windowBits: number) {
    super();
    this.windowBits = windowBits;
  }

  protected create(): NativeZlibStream {
    return zlib.createInflateRaw({ windowBits: this.windowBits, chunkSize: STREAM_CHUNK_SIZE }) as unknown as NativeZlibStream;
  }

  /**
   * The original bytes of one compressed message (RFC 7692 §7.2.2): the
   * payload plus the 00 00 ff ff tail the sender removed. Throws
   * `ZlibLimitError` past `limit` bytes, before allocating much more.
   */
  decompress(data: Uint8Array, limit: number): Buffer {
    const input = Buffer.concat([data, TRAILER]);
    const { output, ended } = this.process(input, limit, data.length * 4 + 256);
    // A final block ends the stream: the next message starts a new one.
    if (ended) this.reset();
    return output;
  }
}
