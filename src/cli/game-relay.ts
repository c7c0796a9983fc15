/**
 * One `/game` arena for a cluster (`switchboard serve --workers N`): worker 1
 * owns it (game-server.ts), and the other workers hand it their
 * connections' calls over a relay bus — a broker of the game's own (under
 * `--workers N`, a second Redis connection) used only for its point-to-point
 * `relay`, never for channels.
 *
 * - `GameRelayBus` starts that broker and hands each relayed message to the
 *   handler of its target.
 * - `GameOwnerRelay` (worker 1) listens to `game:owner`: it runs the requests
 *   on the arena — the same operations a local connection calls — and
 *   replies to the target the request came from.
 * - `GameForwarder` (workers 2 … N) registers `game.join` and `game.input`
 *   and forwards them, with the caller (`GameCaller`), to `game:owner`; it
 *   listens to `game:worker:<n>` for the replies, waits `timeout` ms for
 *   one, and rejects as the owner did (the same error code). It forwards the
 *   disconnect of every connection that joined, and says hello when it
 *   starts, so that the owner lets go of the connections an earlier run of
 *   this worker had (their players go away as if they had dropped).
 *
 * The messages are small JSON objects; the relay keeps the order of the
 * messages one process sends to one target, so a join and then the drop of
 * its connection arrive in that order. What the owner receives is checked
 * (it comes from a process of ours, but a malformed message is ignored, not
 * trusted). When nobody listens to `game:owner` (worker 1 is restarting)
 * or the bus is down, the calls fail at once with `unavailable`.
 */
import { RpcError } from '../realtime/server/errors.js';
import type { Broker } from '../realtime/broker/broker.js';
import type { RealtimeServer } from '../realtime/server/server.js';
import type { DemoApi } from './apps/web/api.js';
import { SEAT_PATTERN, type GameFrame, type GameInput, type GameJoined, type GameJoinParams } from './apps/web/game-api.js';
import { callerOf, type GameCaller, type GameServer } from './game-server.js';

/** The target the arena's owner listens to. */
export const GAME_OWNER_TARGET = 'game:owner';

/** The target worker `worker` listens to for its replies. */
export function gameWorkerTarget(worker: number): string {
  return `game:worker:${worker}`;
}

/** How long a forwarded call waits for the owner's reply, in ms, by default. */
export const GAME_RELAY_TIMEOUT = 5000;

const WORKER_TARGET = /^game:worker:\d{1,6}$/;
const ERROR_CODE = /^[a-z_]{1,40}$/;

/** A forwarded call. */
type GameRequest =
  | { op: 'join'; id: number; from: string; caller: GameCaller; params: GameJoinParams }
  | { op: 'input'; id: number; from: string; caller: Pick<GameCaller, 'sessionId'>; params: GameInput }
  | { op: 'drop'; caller: Pick<GameCaller, 'sessionId'> }
  | { op: 'hello'; from: string };

/** The owner's answer to a join or an input: a result, or an error code and message. */
type GameReply = { op: 'reply'; id: number; result: unknown } | { op: 'reply'; id: number; error: { code: string; message: string } };

/** A join result as JSON: the frame's byte arrays in base64. */
interface RelayedJoined extends Omit<GameJoined, 'frame'> {
  frame: Omit<GameFrame, 'players' | 'items'> & { players: string; items: string };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isText(value: unknown, max: number, min = 0): value is string {
  return typeof value === 'string' && value.length >= min && value.length <= max;
}

function isRequestId(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function isCaller(value: unknown): value is GameCaller {
  return isRecord(value) && isText(value['sessionId'], 128, 1) && isText(value['user'], 256) && isText(value['name'], 100) && isText(value['color'], 64);
}

function isSessionOnly(value: unknown): value is Pick<GameCaller, 'sessionId'> {
  return isRecord(value) && isText(value['sessionId'], 128, 1);
}

function isDirection(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= -1 && value <= 1;
}

/** Reads a request; undefined when it is not one (ignored). Params are checked by `run`, which answers bad_request. */
export function parseGameRequest(message: string): GameRequest | undefined {
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (!isRecord(value)) return undefined;
  const { op } = value;
  if (op === 'hello') return isText(value['from'], 40) && WORKER_TARGET.test(value['from']) ? { op, from: value['from'] } : undefined;
  if (op === 'drop') return isSessionOnly(value['caller']) ? { op, caller: { sessionId: value['caller'].sessionId } } : undefined;
  if (op !== 'join' && op !== 'input') return undefined;
  const { id, from, caller, params } = value;
  if (!isRequestId(id) || !isText(from, 40) || !WORKER_TARGET.test(from)) return undefined;
  if (op === 'join') {
    if (!isCaller(caller)) return undefined;
    return { op, id, from, caller: { sessionId: caller.sessionId, user: caller.user, name: caller.name, color: caller.color }, params: params as GameJoinParams };
  }
  if (!isSessionOnly(caller)) return undefined;
  return { op, id, from, caller: { sessionId: caller.sessionId }, params: params as GameInput };
}

/** Reads a reply; undefined when it is not one. */
function parseGameReply(message: string): GameReply | undefined {
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (!isRecord(value) || value['op'] !== 'reply' || !isRequestId(value['id'])) return undefined;
  const error = value['error'];
  if (error !== undefined) {
    if (!isRecord(error) || !isText(error['code'], 40) || !ERROR_CODE.test(error['code']) || !isText(error['message'], 500)) return undefined;
    return { op: 'reply', id: value['id'], error: { code: error['code'], message: error['message'] } };
  }
  return { op: 'reply', id: value['id'], result: value['result'] };
}

function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function fromBase64(text: string): Uint8Array {
  const buffer = Buffer.from(text, 'base64');
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** A join result as it travels. */
export function relayedJoined(joined: GameJoined): RelayedJoined {
  return { ...joined, frame: { ...joined.frame, players: toBase64(joined.frame.players), items: toBase64(joined.frame.items) } };
}

/** A join result as it travelled, back as the owner gave it; undefined when it is not one. */
export function joinedOfRelayed(value: unknown): GameJoined | undefined {
  if (!isRecord(value) || !isRecord(value['frame'])) return undefined;
  const { frame } = value;
  if (typeof frame['players'] !== 'string' || typeof frame['items'] !== 'string') return undefined;
  if (typeof value['player'] !== 'number' || typeof value['seat'] !== 'string' || typeof value['channel'] !== 'string' || typeof value['tickRate'] !== 'number') return undefined;
  const joined = value as unknown as RelayedJoined;
  return { ...joined, frame: { ...joined.frame, players: fromBase64(joined.frame.players), items: fromBase64(joined.frame.items) } };
}

/** The relay of a broker of the game's own: messages to a target go to the handler this process set for it. */
export class GameRelayBus {
  private readonly handlers = new Map<string, (message: string) => void>();
  private started = false;

  constructor(private readonly broker: Broker) {}

  /** Starts the broker (rejects when its service cannot be reached). */
  async start(): Promise<void> {
    await this.broker.start({
      publication: () => {},
      join: () => {},
      leave: () => {},
      relay: (target, message) => this.handlers.get(target)?.(message),
    });
    this.started = true;
  }

  /** Hands the messages relayed to `target` to `handler` from now on. */
  async listen(target: string, handler: (message: string) => void): Promise<void> {
    this.handlers.set(target, handler);
    await this.broker.listen(target);
  }

  /** Relays `message` to `target`; resolves how many processes listen to it. */
  relay(target: string, message: string): Promise<number> {
    return this.broker.relay(target, message);
  }

  async close(): Promise<void> {
    this.handlers.clear();
    if (this.started) await this.broker.close();
    this.started = false;
  }
}

/** The owner's side: runs relayed requests on the arena. */
export class GameOwnerRelay {
  /** The worker target each relayed session joined from, to let go of a worker's sessions when it starts again. */
  private readonly origins = new Map<string, string>();

  constructor(
    private readonly bus: GameRelayBus,
    private readonly game: GameServer,
    private readonly onError?: (error: Error) => void,
  ) {}

  /** Listens to `game:owner`. */
  start(): Promise<void> {
    return this.bus.listen(GAME_OWNER_TARGET, (message) => this.receive(message));
  }

  /** Sessions known to have joined through another worker (for tests). */
  get relayedSessions(): number {
    return this.origins.size;
  }

  private receive(message: string): void {
    const request = parseGameRequest(message);
    if (request === undefined) return;
    switch (request.op) {
      case 'hello':
        // A worker (re)started: the connections it had are gone.
        for (const [session, from] of this.origins) {
          if (from !== request.from) continue;
          this.origins.delete(session);
          this.game.dropped(session);
        }
        return;
      case 'drop':
        this.origins.delete(request.caller.sessionId);
        this.game.dropped(request.caller.sessionId);
        return;
      case 'join':
      case 'input': {
        let reply: GameReply;
        try {
          reply = { op: 'reply', id: request.id, result: this.run(request) };
        } catch (error) {
          const body = error instanceof RpcError ? { code: error.code, message: error.message } : { code: 'internal', message: 'internal server error' };
          if (!(error instanceof RpcError)) this.onError?.(error instanceof Error ? error : new Error(String(error)));
          reply = { op: 'reply', id: request.id, error: body };
        }
        this.bus.relay(request.from, JSON.stringify(reply)).catch((error: unknown) => this.onError?.(new Error(`replying to ${request.from}: ${(error as Error).message}`)));
      }
    }
  }

  private run(request: Extract<GameRequest, { op: 'join' | 'input' }>): unknown {
    if (request.op === 'join') {
      const params = request.params as unknown;
      if (!isRecord(params)) throw new RpcError('bad_request', 'game.join takes { seat? }');
      const seat = params['seat'];
      if (seat !== undefined && !(typeof seat === 'string' && SEAT_PATTERN.test(seat))) throw new RpcError('bad_request', 'a seat is what game.join returned');
      const joined = this.game.join(seat === undefined ? {} : { seat }, request.caller);
      this.origins.set(request.caller.sessionId, request.from);
      return relayedJoined(joined);
    }
    const params = request.params as unknown;
    if (!isRecord(params) || !isDirection(params['x']) || !isDirection(params['y'])) throw new RpcError('bad_request', 'game.input takes { x, y } in −1 … 1');
    return this.game.input({ x: params['x'], y: params['y'] }, request.caller);
  }
}

export interface GameForwarderOptions {
  /** This worker's number (2 … N). */
  worker: number;
  /** How long a call waits for the owner's reply, in ms. Default `GAME_RELAY_TIMEOUT`. */
  timeout?: number;
  /** Reports errors (a disconnect that could not be forwarded). */
  onError?: (error: Error) => void;
}

interface Pending {
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** A worker's side: forwards its connections' game calls to the owner. */
export class GameForwarder {
  private readonly target: string;
  private readonly timeout: number;
  private readonly pending = new Map<number, Pending>();
  /** The sessions that joined (or asked to) through this worker: their disconnects go to the owner. */
  private readonly joined = new Set<string>();
  private nextId = 0;

  constructor(
    rt: RealtimeServer<DemoApi>,
    private readonly bus: GameRelayBus,
    private readonly options: GameForwarderOptions,
  ) {
    this.target = gameWorkerTarget(options.worker);
    this.timeout = options.timeout ?? GAME_RELAY_TIMEOUT;
    rt.method('game.join', (params, session) => this.join(params, callerOf(session)));
    rt.method('game.input', (params, session) => this.input(params, session.id));
    rt.on('disconnect', (session) => this.dropped(session.id));
  }

  /** Listens for the replies, and tells the owner that this worker starts (afresh). */
  async start(): Promise<void> {
    await this.bus.listen(this.target, (message) => this.receive(message));
    // Not heard (worker 1 is starting, or the bus is down): an arena that starts has no connection of this worker to let go of.
    await this.send({ op: 'hello', from: this.target }).catch(() => {});
  }

  /** Fails the calls still waiting. */
  stop(): void {
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new RpcError('unavailable', 'the server is stopping'));
      this.pending.delete(id);
    }
  }

  /** Calls waiting for the owner's reply (for tests). */
  get waiting(): number {
    return this.pending.size;
  }

  async join(params: GameJoinParams, caller: GameCaller): Promise<GameJoined> {
    this.joined.add(caller.sessionId);
    const result = await this.call({ op: 'join', caller, params: params.seat === undefined ? {} : { seat: params.seat } });
    const joined = joinedOfRelayed(result);
    if (joined === undefined) throw new RpcError('internal', 'the arena answered something else than a join');
    return joined;
  }

  async input(params: GameInput, sessionId: string): Promise<null> {
    await this.call({ op: 'input', caller: { sessionId }, params: { x: params.x, y: params.y } });
    return null;
  }

  private dropped(sessionId: string): void {
    if (!this.joined.delete(sessionId)) return;
    this.send({ op: 'drop', caller: { sessionId } }).catch((error: unknown) => this.options.onError?.(error as Error));
  }

  /** Relays a message that needs no reply; rejects with `unavailable` when nobody got it. */
  private async send(message: GameRequest): Promise<void> {
    let reached: number;
    try {
      reached = await this.bus.relay(GAME_OWNER_TARGET, JSON.stringify(message));
    } catch (error) {
      throw new RpcError('unavailable', `the arena cannot be reached: ${(error as Error).message}`);
    }
    if (reached === 0) throw new RpcError('unavailable', 'the arena is not running (its worker is starting); try again');
  }

  /** Relays a request and resolves the owner's result, or rejects with its error (or `unavailable`). */
  private call(request: { op: 'join'; caller: GameCaller; params: GameJoinParams } | { op: 'input'; caller: Pick<GameCaller, 'sessionId'>; params: GameInput }): Promise<unknown> {
    const id = this.nextId++;
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RpcError('unavailable', `the arena did not answer within ${this.timeout} ms`));
      }, this.timeout);
      this.pending.set(id, { resolve, reject, timer });
      this.send({ ...request, id, from: this.target } as GameRequest).catch((error: unknown) => {
        if (!this.pending.delete(id)) return;
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      });
    });
  }

  private receive(message: string): void {
    const reply = parseGameReply(message);
    if (reply === undefined) return;
    const pending = this.pending.get(reply.id);
    if (pending === undefined) return;
    this.pending.delete(reply.id);
    clearTimeout(pending.timer);
    if ('error' in reply) pending.reject(new RpcError(reply.error.code, reply.error.message));
    else pending.resolve(reply.result);
  }
}
