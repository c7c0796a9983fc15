/**
 * A tiny typed event emitter that runs in browsers and Node alike (no
 * node:events). `Events` maps each event name to its listener's arguments:
 *
 * ```ts
 * class Door extends Emitter<{ open: [by: string]; close: [] }> {}
 * new Door().on('open', (by) => console.log(by));
 * ```
 */

/** Event name → listener argument tuple. */
export type EventMap<Events> = { [K in keyof Events]: unknown[] };

/** A listener of event `K`. */
export type Listener<Events extends EventMap<Events>, K extends keyof Events> = (...args: Events[K]) => void;

/**
 * What happens when a listener throws: by default the error is reported
 * asynchronously (`reportError` in browsers, an uncaught exception in Node),
 * so that one faulty listener neither stops the others nor the emitter's own
 * bookkeeping.
 */
export function reportListenerError(error: unknown): void {
  const report = (globalThis as { reportError?: (error: unknown) => void }).reportError;
  if (typeof report === 'function') {
    report(error);
    return;
  }
  setTimeout(() => {
    throw error;
  }, 0);
}

/** A registered listener. */
interface Registration {
  listener: unknown;
  once: boolean;
}

/** Base class of the SDK's event sources. Listeners run synchronously, in the order they were added. */
export class Emitter<Events extends EventMap<Events>> {
  readonly #listeners = new Map<keyof Events, Registration[]>();

  /** Adds `listener` for `event`. Adding the same function twice makes it run twice. */
  on<K extends keyof Events>(event: K, listener: Listener<Events, K>): this {
    return this.#add(event, { listener, once: false });
  }

  /** Adds `listener` for the next `event` only. */
  once<K extends keyof Events>(event: K, listener: Listener<Events, K>): this {
    return this.#add(event, { listener, once: true });
  }

  /** Removes one registration of `listener` (the earliest). */
  off<K extends keyof Events>(event: K, listener: Listener<Events, K>): this {
    const list = this.#listeners.get(event);
    if (list === undefined) return this;
    const index = list.findIndex((entry) => entry.listener === listener);
    if (index >= 0) this.#remove(event, list, list[index]!);
    return this;
  }

  /** The number of listeners of `event`. */
  listenerCount(event: keyof Events): number {
    return this.#listeners.get(event)?.length ?? 0;
  }

  /** Removes every listener of `event`, or of every event. */
  removeAllListeners(event?: keyof Events): this {
    if (event === undefined) this.#listeners.clear();
    else this.#listeners.delete(event);
    return this;
  }

  /** Calls the listeners of `event` with `args`; returns whether there were any. */
  protected emit<K extends keyof Events>(event: K, ...args: Events[K]): boolean {
    const list = this.#listeners.get(event);
    if (list === undefined) return false;
    for (const entry of [...list]) {
      if (entry.once) this.#remove(event, this.#listeners.get(event), entry);
      try {
        (entry.listener as Listener<Events, K>)(...args);
      } catch (error) {
        reportListenerError(error);
      }
    }
    return true;
  }

  #add(event: keyof Events, entry: Registration): this {
    const list = this.#listeners.get(event);
    if (list === undefined) this.#listeners.set(event, [entry]);
    else list.push(entry);
    return this;
  }

  #remove(event: keyof Events, list: Registration[] | undefined, entry: Registration): void {
    if (list === undefined) return;
    const index = list.indexOf(entry);
    if (index < 0) return;
    list.splice(index, 1);
    if (list.length === 0) this.#listeners.delete(event);
  }
}
