/**
 * Bot players of the `/game` arena (`switchboard serve --game-bots N`): each
 * one heads for the item nearest to it, wobbling a little, and changes its
 * mind now and then. Pure, like game-world.ts: `steer()` is called before
 * each step and only sets inputs.
 */
import { createRandom, type GameWorld } from './game-world.js';

/** Most bots `--game-bots` accepts. */
export const MAX_GAME_BOTS = 200;

/** Colours of the bots: muted, so that people stand out. */
const BOT_COLORS = ['#7c8799', '#8d7f6f', '#6f8d84', '#85779a', '#9a7777'];

export class GameBots {
  private readonly ids: number[] = [];
  private readonly random: () => number;
  /** Per bot: the item index it heads for, and until which tick. */
  private readonly goals = new Map<number, { item: number; until: number }>();

  constructor(
    private readonly world: GameWorld,
    seed = 0x51ed270b,
  ) {
    this.random = createRandom(seed);
  }

  get count(): number {
    return this.ids.length;
  }

  /** Adds `count` bots to the world (named Bot 1, Bot 2, …). */
  add(count: number): void {
    if (!Number.isInteger(count) || count < 0 || this.ids.length + count > MAX_GAME_BOTS) throw new RangeError(`bots: an integer in 0 … ${MAX_GAME_BOTS}`);
    for (let i = 0; i < count; i++) {
      const n = this.ids.length + 1;
      const player = this.world.join({ user: '', name: `Bot ${n}`, color: BOT_COLORS[n % BOT_COLORS.length]!, bot: true });
      this.ids.push(player.id);
    }
  }

  /** Sets every bot's input for the next step. */
  steer(): void {
    const items = this.world.items;
    const tick = this.world.tick;
    for (const id of this.ids) {
      const bot = this.world.player(id);
      if (bot === undefined || items.length === 0) continue;
      let goal = this.goals.get(id);
      if (goal === undefined || tick >= goal.until || goal.item >= items.length) {
        goal = { item: this.pick(bot.x, bot.y), until: tick + 20 + Math.floor(this.random() * 60) };
        this.goals.set(id, goal);
      }
      const target = items[goal.item]!;
      const angle = Math.atan2(target.y - bot.y, target.x - bot.x) + (this.random() - 0.5) * 0.6;
      this.world.steer(id, Math.cos(angle), Math.sin(angle));
    }
  }

  /** The nearest item, or (one time in four) a random one, so that bots spread out. */
  private pick(x: number, y: number): number {
    const items = this.world.items;
    if (this.random() < 0.25) return Math.floor(this.random() * items.length);
    let best = 0;
    let bestDistance = Infinity;
    items.forEach((item, i) => {
      const distance = (item.x - x) ** 2 + (item.y - y) ** 2;
      if (distance < bestDistance) [best, bestDistance] = [i, distance];
    });
    return best;
  }
}
