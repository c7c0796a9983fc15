/**
 * Protocol heartbeats (docs/protocol.md §6), driven by one server-level
 * interval timer: every `ping` ms, `{"type":"ping"}` is encoded once per
 * codec and broadcast to every connected session (sessions of the HTTP
 * fallback take the same payload one by one); a session that has not
 * answered a ping `pong` ms after it was sent is told it timed out.
 *
 * Unless bytes are still queued for it then: the ping may still be waiting
 * behind them (a slow link, or a conflated subscriber's latest values, can
 * hold several seconds of data), so such a session gets one more round, and
 * is timed out at the next ping's check if it has still not answered. A
 * connection that reads nothing is thus closed within `ping + pong` ms.
 */
import type { Codec } from '../wire/codec.js';
import type { PingMessage } from '../wire/messages.js';
import { broadcastTo, type RealtimeSocket, type Subscriber } from './fanout.js';
import type { Traffic } from './stats.js';

/** A connection the heartbeat watches. */
export interface HeartbeatMember extends Subscriber {
  /** The round of the oldest unanswered ping, or 0 when every ping was answered. */
  unansweredRound: number;
  /** No pong in time. */
  heartbeatTimeout(): void;
}

const PING: PingMessage = { type: 'ping' };

export class ProtocolHeartbeat {
  private readonly members = new Set<HeartbeatMember>();
  private readonly groups = new Map<Codec, Set<RealtimeSocket>>();
  /** Members without a WebSocket (HTTP fallback). */
  private readonly streams = new Set<HeartbeatMember>();
  /** Late members given one more round because bytes were still queued for them. */
  private readonly graced = new Set<HeartbeatMember>();
  private readonly encoded = new Map<Codec, string | Uint8Array>();
  private readonly checks = new Set<NodeJS.Timeout>();
  private timer: NodeJS.Timeout | null = null;
  private round = 0;

  /** `interval`: ms between pings; `timeout`: ms a ping may go unanswered; `traffic` counts the pings. */
  constructor(
    readonly interval: number,
    readonly timeout: number,
    private readonly traffic?: Traffic,
  ) {}

  /** Starts the interval timer (unref'd: it does not keep the process alive). */
  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.tick(), this.interval);
    this.timer.unref();
  }

  /** Stops every timer and forgets the members. */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const check of this.checks) clearTimeout(check);
    this.checks.clear();
    this.members.clear();
    this.groups.clear();
    this.streams.clear();
    this.graced.clear();
  }

  add(member: HeartbeatMember): void {
    member.unansweredRound = 0;
    this.members.add(member);
    if (member.ws === null) {
      this.streams.add(member);
      return;
    }
    let group = this.groups.get(member.codec);
    if (group === undefined) this.groups.set(member.codec, (group = new Set()));
    group.add(member.ws);
  }

  delete(member: HeartbeatMember): void {
    this.members.delete(member);
    this.graced.delete(member);
    if (member.ws === null) this.streams.delete(member);
    else this.groups.get(member.codec)?.delete(member.ws);
  }

  /** A pong arrived: every ping so far is answered. */
  pong(member: HeartbeatMember): void {
    member.unansweredRound = 0;
  }

  private tick(): void {
    const round = ++this.round;
    for (const member of this.members) {
      if (member.unansweredRound !== 0) continue;
      member.unansweredRound = round;
      this.graced.delete(member); // it answered since its grace
    }
    for (const [codec, group] of this.groups) {
      if (group.size > 0) broadcastTo(group, this.encodedPing(codec), codec.binary, this.traffic);
    }
    for (const member of this.streams) member.pushPayload(this.encodedPing(member.codec));
    const check = setTimeout(() => {
      this.checks.delete(check);
      this.expire(round);
    }, this.timeout);
    check.unref();
    this.checks.add(check);
  }

  /**
   * Times out the members that still owe the ping of `round` (or an older
   * one), except those with bytes still queued that had no grace yet.
   */
  private expire(round: number): void {
    const late: HeartbeatMember[] = [];
    for (const member of this.members) {
      if (member.unansweredRound === 0 || member.unansweredRound > round) continue;
      if (!this.graced.has(member) && member.link.bufferedAmount > 0) {
        this.graced.add(member);
        continue;
      }
      late.push(member);
    }
    for (const member of late) {
      this.delete(member);
      member.heartbeatTimeout();
    }
  }

  private encodedPing(codec: Codec): string | Uint8Array {
    let payload = this.encoded.get(codec);
    if (payload === undefined) this.encoded.set(codec, (payload = codec.encode(PING)));
    return payload;
  }
}
