/**
 * Consecutive `publish` commands of one connection, pipelined
 * (docs/protocol.md §2, "Order"): the next publish starts as soon as the one
 * before it has been handed to the broker, not once the broker answered it.
 * The broker takes a channel's publications in the order of its `publish`
 * calls, so the offsets keep the connection's order, and through Redis a
 * publishing connection no longer waits a round trip per publication. The
 * replies are still written in arrival order (each waits for the one before),
 * and every other command waits until the publishes before it have finished.
 */

/** Publishes of one connection in flight at once; the next one waits for the oldest to finish. */
export const MAX_PIPELINED_PUBLISHES = 16;

/** A pipelined publish's place in its connection's pipeline. */
export interface PublishTurn {
  /** Resolves once the connection's previous publish has written its reply (at once when there is none). */
  readonly previous: Promise<void>;
  /** The publication was handed to the broker (or the publish failed before that): the next command may start. Idempotent. */
  handedOver(): void;
}

const SETTLED: Promise<void> = Promise.resolve();

/** The publishes of one connection that have started and not yet finished, in order. */
export class PublishPipeline {
  /** Completion of each publish in flight, oldest first; each resolves after the one before it. */
  private readonly inFlight: Promise<void>[] = [];

  /** Publishes in flight. */
  get size(): number {
    return this.inFlight.length;
  }

  /**
   * Starts one publish; `run` must not reject, and must call `handedOver`
   * and wait for `previous` before it writes its reply. Resolves once the
   * next command may start: when `run` handed its publication over, or
   * finished.
   */
  async start(run: (turn: PublishTurn) => Promise<void>): Promise<void> {
    while (this.inFlight.length >= MAX_PIPELINED_PUBLISHES) await this.inFlight[0];
    const previous = this.inFlight.length === 0 ? SETTLED : this.inFlight[this.inFlight.length - 1]!;
    let handedOver!: () => void;
    const handed = new Promise<void>((resolve) => {
      handedOver = resolve;
    });
    const done = run({ previous, handedOver });
    this.inFlight.push(done);
    void done.then(() => {
      const index = this.inFlight.indexOf(done);
      if (index >= 0) this.inFlight.splice(index, 1);
    });
    await Promise.race([handed, done]);
  }

  /** Resolves once every publish started so far has finished. */
  settled(): Promise<void> {
    return this.inFlight.length === 0 ? SETTLED : this.inFlight[this.inFlight.length - 1]!;
  }
}
