/**
 * RPC in both directions (docs/protocol.md §4.6, §5.5): the registry of
 * client-to-server methods and the run of one handler under a time limit,
 * and the server-to-client calls of one connection waiting for their replies.
 */
import { ErrorCode } from '../wire/errors.js';
import type { ErrorBody } from '../wire/messages.js';
import { DISCONNECTED, RpcError } from './errors.js';

/** Default time limit of a method handler, and default timeout of `Session.call` (ms). */
export const DEFAULT_RPC_TIMEOUT = 30_000;

/** A method handler as the registry keeps it (the typed form lives on `RealtimeServer.method`). */
export type MethodHandler<S> = (params: unknown, session: S) => unknown;

/** Client-to-server methods by name. */
export class MethodRegistry<S> {
  private readonly handlers = new Map<string, MethodHandler<S>>();

  /** Registers (or replaces) the handler of `name`. */
  set(name: string, handler: MethodHandler<S>): void {
    if (typeof name !== 'string' || name === '') throw new TypeError('a method name must be a non-empty string');
    if (typeof handler !== 'function') throw new TypeError(`the handler of ${name} must be a function`);
    this.handlers.set(name, handler);
  }

  get(name: string): MethodHandler<S> | undefined {
    return this.handlers.get(name);
  }
}

/** Whether `value` is a promise or another thenable, which `await` would wait for. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/**
 * Runs a handler under a time limit. A handler that returns a value (not a
 * thenable) or throws has finished: its value is returned, or what it threw
 * is thrown, with no timer and no promise (a timer could never fire before
 * a synchronous return). A thenable result is waited for: the promise
 * resolves with its value, or rejects with its reason, or with
 * `RpcError('timeout')` after `timeout` ms (the handler keeps running; its
 * late result is ignored).
 */
export function runWithTimeout<T>(run: () => T | PromiseLike<T>, timeout: number): T | Promise<T> {
  const result = run();
  if (!isThenable(result)) return result;
  return waitWithTimeout(result, timeout);
}

/** `result`'s value, or `RpcError('timeout')` when it has none after `timeout` ms. */
function waitWithTimeout<T>(result: PromiseLike<T>, timeout: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new RpcError(ErrorCode.Timeout, `no result within ${timeout} ms`)), timeout);
    timer.unref();
    const settle = (): void => clearTimeout(timer);
    Promise.resolve(result).then(
      (value) => {
        settle();
        resolve(value);
      },
      (error: unknown) => {
        settle();
        reject(error);
      },
    );
  });
}

interface PendingCall {
  resolve(value: unknown): void;
  reject(error: RpcError): void;
  timer: NodeJS.Timeout;
}

/** The server-to-client calls of one connection that wait for a reply. */
export class OutgoingCalls {
  private nextId = 1;
  private readonly pending = new Map<number, PendingCall>();

  /**
   * Starts a call: returns its id (to put in the `call` message) and the
   * promise of its result, which rejects with `RpcError('timeout')` after
   * `timeout` ms.
   */
  start(method: string, timeout: number): { id: number; result: Promise<unknown> } {
    const id = this.nextId++;
    const result = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RpcError(ErrorCode.Timeout, `no reply to ${method} within ${timeout} ms`));
      }, timeout);
      timer.unref();
      this.pending.set(id, { resolve, reject, timer });
    });
    return { id, result };
  }

  /** Settles the call a client's reply answers; replies to unknown ids (e.g. after a timeout) are ignored. */
  settle(id: number, outcome: { result: unknown } | { error: ErrorBody }): void {
    const call = this.pending.get(id);
    if (call === undefined) return;
    this.pending.delete(id);
    clearTimeout(call.timer);
    if ('error' in outcome) call.reject(new RpcError(outcome.error.code, outcome.error.message, outcome.error.data));
    else call.resolve(outcome.result);
  }

  /** Rejects the call just started (its message could not be sent). */
  abort(id: number, error: RpcError): void {
    const call = this.pending.get(id);
    if (call === undefined) return;
    this.pending.delete(id);
    clearTimeout(call.timer);
    call.reject(error);
  }

  /** Rejects every pending call with `disconnected` (the connection ended). */
  rejectAll(): void {
    for (const [id, call] of this.pending) {
      clearTimeout(call.timer);
      call.reject(new RpcError(DISCONNECTED, 'the connection ended before the reply'));
      this.pending.delete(id);
    }
  }
}
