/**
 * permessage-deflate (RFC 7692): negotiation on both sides and per-message
 * compression, on the extension framework of `extension.ts`.
 *
 * Memory is bounded by design. Without context takeover (the server's default
 * for both directions) a connection keeps no zlib state at all: it borrows a
 * process-wide compressor or decompressor for the length of one message, so
 * idle connections cost a few hundred bytes and a broadcast can be compressed
 * once for every recipient with the same parameters. With context takeover,
 * the zlib state is allocated on the first message that needs it and freed
 * when the connection ends. Inflated output is bounded while it is produced:
 * a decompression bomb stops at the message limit (close 1009). zlib runs
 * synchronously on the calling thread, so at most one zlib operation runs at
 * a time per process and none queues up in the thread pool.
 */
import { RemoteProtocolError } from './errors.js';
import type { ClientExtension, Extension, ServerExtension } from './extension.js';
import { RSV1 } from './frame.js';
import type { ExtensionParam } from './headers.js';
import { isSyncZlibAvailable, SyncDeflater, SyncInflater, ZlibLimitError, type DeflateSettings } from './zlib-engine.js';

export const PERMESSAGE_DEFLATE = 'permessage-deflate';

export interface PerMessageDeflateOptions {
  /**
   * Server: reset the server's compressor after every message
   * (`server_no_context_takeover`). Default true on the server (no per-connection
   * compressor memory, broadcasts compressed once); on the client, asks the
   * server for it (default false).
   */
  serverNoContextTakeover?: boolean;
  /** Ask the client to reset its compressor after every message. Default true on the server, false on the client. */
  clientNoContextTakeover?: boolean;
  /** Largest LZ77 window of the server's compressor, 9-15. Default 15. */
  serverMaxWindowBits?: number;
  /** Largest LZ77 window of the client's compressor, 9-15. Default 15. */
  clientMaxWindowBits?: number;
  /** zlib compression level, 0-9. Default 1 (fast; small messages gain little from higher levels). */
  level?: number;
  /** zlib memLevel, 1-9. Default 8. */
  memLevel?: number;
  /** Messages shorter than this many bytes are sent uncompressed. Default 128. */
  threshold?: number;
}

export const DEFLATE_DEFAULTS = {
  level: 1,
  memLevel: 8,
  threshold: 128,
  maxWindowBits: 15,
} as const;

/** Parsed and validated parameters of one offer or response. */
interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** `true` when present without a value (offers only). */
  clientMaxWindowBits: number | true | undefined;
}

/** Why a parameter list is invalid. */
export class DeflateParamsError extends Error {}

function windowBits(name: string, value: string | true): number {
  if (value === true || !/^[0-9]{1,2}$/.test(value)) throw new DeflateParamsError(`${name} needs a value from 8 to 15`);
  const bits = Number(value);
  if (bits < 8 || bits > 15) throw new DeflateParamsError(`${name}=${value} is outside 8-15`);
  return bits;
}

/** Validates parameters (RFC 7692 §7.1): known names, no repeats, well-formed values. */
export function parseDeflateParams(params: readonly ExtensionParam[], kind: 'offer' | 'response'): DeflateParams {
  const parsed: DeflateParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  const seen = new Set<string>();
  for (const [name, value] of params) {
    if (seen.has(name)) throw new DeflateParamsError(`repeated parameter ${name}`);
    seen.add(name);
    switch (name) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        if (value !== true) throw new DeflateParamsError(`${name} takes no value`);
        if (name === 'server_no_context_takeover') parsed.serverNoContextTakeover = true;
        else parsed.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits':
        parsed.serverMaxWindowBits = windowBits(name, value);
        break;
      case 'client_max_window_bits':
        parsed.clientMaxWindowBits = kind === 'offer' && value === true ? true : windowBits(name, value);
        break;
      default:
        throw new DeflateParamsError(`unknown parameter ${name}`);
    }
  }
  return parsed;
}

function checkOptions(options: PerMessageDeflateOptions): void {
  const inRange = (name: string, value: number | undefined, low: number, high: number): void => {
    if (value !== undefined && !(Number.isInteger(value) && value >= low && value <= high)) {
      throw new RangeError(`permessage-deflate ${name} must be an integer from ${low} to ${high}`);
    }
  };
  inRange('serverMaxWindowBits', options.serverMaxWindowBits, 9, 15);
  inRange('clientMaxWindowBits', options.clientMaxWindowBits, 9, 15);
  inRange('level', options.level, 0, 9);
  inRange('memLevel', options.memLevel, 1, 9);
  inRange('threshold', options.threshold, 0, Number.MAX_SAFE_INTEGER);
}

// ------------------------------------------------------------ the extension

interface DirectionSettings {
  /** The sender resets its window after each message. */
  noContextTakeover: boolean;
  windowBits: number;
}

export interface DeflateExtensionSettings {
  /** How this side compresses. */
  compress: DirectionSettings;
  /** How the peer compresses (what this side must be able to inflate). */
  decompress: DirectionSettings;
  level: number;
  memLevel: number;
  threshold: number;
}

const sharedDeflaters = new Map<string, SyncDeflater>();
const sharedParameters = new Map<string, { key: string; deflate: DeflateSettings }>();
const sharedInflaters = new Map<number, SyncInflater>();

function sharedDeflater(settings: DeflateSettings): SyncDeflater {
  const key = `${settings.windowBits}/${settings.level}/${settings.memLevel}`;
  let deflater = sharedDeflaters.get(key);
  if (!deflater) sharedDeflaters.set(key, (deflater = new SyncDeflater(settings)));
  return deflater;
}

function sharedInflater(windowBits: number): SyncInflater {
  let inflater = sharedInflaters.get(windowBits);
  if (!inflater) sharedInflaters.set(windowBits, (inflater = new SyncInflater(windowBits)));
  return inflater;
}

/** A negotiated permessage-deflate: compresses and decompresses messages. */
export class PerMessageDeflate implements Extension {
  readonly name = PERMESSAGE_DEFLATE;
  readonly rsvBits = RSV1;
  readonly sharedEncodingKey: string | null;
  readonly settings: DeflateExtensionSettings;
  private readonly deflateSettings: DeflateSettings;
  /** Per-connection engines, only with context takeover, created on first use. */
  private ownDeflater: SyncDeflater | null = null;
  private ownInflater: SyncInflater | null = null;

  constructor(settings: DeflateExtensionSettings) {
    this.settings = settings;
    // zlib cannot produce raw streams with a 256-byte window; 8 is only ever a peer's choice.
    const windowBits = Math.max(9, settings.compress.windowBits);
    const key = `permessage-deflate;w=${windowBits};l=${settings.level};m=${settings.memLevel};t=${settings.threshold}`;
    // Shared per parameter set, not per connection: idle connections are many.
    let shared = sharedParameters.get(key);
    if (!shared) sharedParameters.set(key, (shared = { key, deflate: { level: settings.level, memLevel: settings.memLevel, windowBits } }));
    this.deflateSettings = shared.deflate;
    this.sharedEncodingKey = settings.compress.noContextTakeover ? shared.key : null;
  }

  /** True while this connection holds zlib memory of its own. */
  get holdsZlibMemory(): boolean {
    return (this.ownDeflater?.allocated ?? false) || (this.ownInflater?.allocated ?? false);
  }

  encode(data: Uint8Array, _binary: boolean, options: { compress?: boolean }): { data: Uint8Array; rsv: number } {
    if (options.compress === false || data.length < this.settings.threshold) return { data, rsv: 0 };
    if (this.settings.compress.noContextTakeover) {
      const deflater = sharedDeflater(this.deflateSettings);
      const compressed = deflater.compress(data);
      deflater.reset();
      return { data: compressed, rsv: RSV1 };
    }
    this.ownDeflater ??= new SyncDeflater(this.deflateSettings);
    return { data: this.ownDeflater.compress(data), rsv: RSV1 };
  }

  decode(data: Buffer, rsv: number, _binary: boolean, maxSize: number): Buffer {
    if ((rsv & RSV1) === 0) return data;
    // A bigger window always inflates a smaller one; zlib's raw inflate needs at least 9.
    const bits = Math.max(9, this.settings.decompress.windowBits);
    const shared = this.settings.decompress.noContextTakeover;
    const inflater = shared ? sharedInflater(bits) : (this.ownInflater ??= new SyncInflater(bits));
    try {
      return inflater.decompress(data, maxSize);
    } catch (error) {
      if (error instanceof ZlibLimitError) {
        throw new RemoteProtocolError('SB_ERR_MESSAGE_TOO_LARGE', `inflated message over ${maxSize} bytes`);
      }
      throw new RemoteProtocolError('SB_ERR_INFLATE_FAILED', `invalid compressed data: ${(error as Error).message}`);
    } finally {
      if (shared) inflater.reset();
    }
  }

  dispose(): void {
    this.ownDeflater?.release();
    this.ownInflater?.release();
    this.ownDeflater = null;
    this.ownInflater = null;
  }
}

// ------------------------------------------------------------ negotiation

function resolved(options: PerMessageDeflateOptions): Pick<DeflateExtensionSettings, 'level' | 'memLevel' | 'threshold'> {
  return {
    level: options.level ?? DEFLATE_DEFAULTS.level,
    memLevel: options.memLevel ?? DEFLATE_DEFAULTS.memLevel,
    threshold: options.threshold ?? DEFLATE_DEFAULTS.threshold,
  };
}

/** The server side: picks the first acceptable offer and answers it. */
export class PerMessageDeflateServer implements ServerExtension {
  readonly name = PERMESSAGE_DEFLATE;
  private readonly options: PerMessageDeflateOptions;

  constructor(options: PerMessageDeflateOptions = {}) {
    checkOptions(options);
    this.options = options;
  }

  negotiate(offers: ExtensionParam[][]): { params: ExtensionParam[]; extension: Extension } | null {
    if (!isSyncZlibAvailable()) return null;
    for (const params of offers) {
      let offer: DeflateParams;
      try {
        offer = parseDeflateParams(params, 'offer');
      } catch {
        continue; // an invalid offer is declined; the next one may do
      }
      const answer = this.answer(offer);
      if (answer) return answer;
    }
    return null;
  }

  private answer(offer: DeflateParams): { params: ExtensionParam[]; extension: Extension } | null {
    const options = this.options;
    let serverBits = options.serverMaxWindowBits ?? DEFLATE_DEFAULTS.maxWindowBits;
    if (offer.serverMaxWindowBits !== undefined) {
      if (offer.serverMaxWindowBits < 9) return null; // zlib cannot compress with a 256-byte window
      serverBits = Math.min(serverBits, offer.serverMaxWindowBits);
    }
    const serverNoContextTakeover = (options.serverNoContextTakeover ?? true) || offer.serverNoContextTakeover;
    const clientNoContextTakeover = (options.clientNoContextTakeover ?? true) || offer.clientNoContextTakeover;
    let clientBits: number = DEFLATE_DEFAULTS.maxWindowBits;
    if (offer.clientMaxWindowBits !== undefined) {
      const limit = offer.clientMaxWindowBits === true ? DEFLATE_DEFAULTS.maxWindowBits : offer.clientMaxWindowBits;
      clientBits = Math.min(options.clientMaxWindowBits ?? DEFLATE_DEFAULTS.maxWindowBits, limit);
    }
    const params: ExtensionParam[] = [];
    if (serverNoContextTakeover) params.push(['server_no_context_takeover', true]);
    if (clientNoContextTakeover) params.push(['client_no_context_takeover', true]);
    if (offer.serverMaxWindowBits !== undefined || serverBits < 15) params.push(['server_max_window_bits', String(serverBits)]);
    if (offer.clientMaxWindowBits !== undefined && clientBits < 15) params.push(['client_max_window_bits', String(clientBits)]);
    const extension = new PerMessageDeflate({
      compress: { noContextTakeover: serverNoContextTakeover, windowBits: serverBits },
      decompress: { noContextTakeover: clientNoContextTakeover, windowBits: clientBits },
      ...resolved(options),
    });
    return { params, extension };
  }
}

/** The client side: offers permessage-deflate and checks the server's answer. */
export class PerMessageDeflateClient implements ClientExtension {
  readonly name = PERMESSAGE_DEFLATE;
  private readonly options: PerMessageDeflateOptions;

  constructor(options: PerMessageDeflateOptions = {}) {
    checkOptions(options);
    this.options = options;
  }

  offer(): ExtensionParam[] {
    const options = this.options;
    const params: ExtensionParam[] = [];
    if (options.serverNoContextTakeover) params.push(['server_no_context_takeover', true]);
    if (options.clientNoContextTakeover) params.push(['client_no_context_takeover', true]);
    if (options.serverMaxWindowBits !== undefined && options.serverMaxWindowBits < 15) {
      params.push(['server_max_window_bits', String(options.serverMaxWindowBits)]);
    }
    const clientBits = options.clientMaxWindowBits ?? DEFLATE_DEFAULTS.maxWindowBits;
    params.push(['client_max_window_bits', clientBits < 15 ? String(clientBits) : true]);
    return params;
  }

  accept(params: ExtensionParam[]): Extension {
    if (!isSyncZlibAvailable()) throw new DeflateParamsError('permessage-deflate is not available on this runtime');
    const answer = parseDeflateParams(params, 'response');
    const options = this.options;
    if (options.serverNoContextTakeover && !answer.serverNoContextTakeover) {
      throw new DeflateParamsError('server_no_context_takeover was requested but not accepted');
    }
    const offeredServerBits = options.serverMaxWindowBits ?? DEFLATE_DEFAULTS.maxWindowBits;
    if (answer.serverMaxWindowBits !== undefined && answer.serverMaxWindowBits > offeredServerBits) {
      throw new DeflateParamsError(`server_max_window_bits=${answer.serverMaxWindowBits} exceeds the ${offeredServerBits} offered`);
    }
    const offeredClientBits = options.clientMaxWindowBits ?? DEFLATE_DEFAULTS.maxWindowBits;
    const clientBits = answer.clientMaxWindowBits === undefined ? offeredClientBits : (answer.clientMaxWindowBits as number);
    if (clientBits > offeredClientBits) throw new DeflateParamsError(`client_max_window_bits=${clientBits} exceeds the ${offeredClientBits} offered`);
    if (clientBits < 9) throw new DeflateParamsError('client_max_window_bits=8 is not supported (zlib needs at least 9)');
    return new PerMessageDeflate({
      compress: { noContextTakeover: answer.clientNoContextTakeover || (options.clientNoContextTakeover ?? false), windowBits: clientBits },
      decompress: { noContextTakeover: answer.serverNoContextTakeover, windowBits: answer.serverMaxWindowBits ?? 15 },
      ...resolved(options),
    });
  }
}
