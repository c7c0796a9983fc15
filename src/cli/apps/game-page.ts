/** The multiplayer game's page (`/game`); its script is web/game.ts. */
import { renderPage } from './layout.js';
import { ARENA_HEIGHT, ARENA_WIDTH } from './web/game-api.js';

const FIGURES: ReadonlyArray<{ id: string; label: string }> = [
  { id: 'players', label: 'Players' },
  { id: 'tick', label: 'Server tick' },
  { id: 'frame', label: 'Frame size' },
];

const MAIN = `<div class="dash-head"><h1>Arena</h1><span id="game-meta">joining…</span></div>
<section class="game-body">
  <section class="panel game-stage">
    <div class="game-canvas-wrap">
      <canvas id="arena" width="${ARENA_WIDTH}" height="${ARENA_HEIGHT}" role="img" aria-label="The arena: every player and the coins to collect"></canvas>
      <p id="game-status" class="game-status" hidden></p>
    </div>
    <p class="game-help">Steer with the mouse or a finger (towards the pointer), or with the arrow keys or WASD. Collect the coins: one point each. The server runs the game; this page draws it between its last two states.</p>
  </section>
  <aside class="panel game-side">
    <h2>Scores</h2>
    <p id="you" class="game-you">joining…</p>
    <ol id="scores" class="game-scores"></ol>
    <dl class="game-figures">${FIGURES.map(({ id, label }) => `<div id="figure-${id}"><dt>${label}</dt><dd>–</dd></div>`).join('')}</dl>
  </aside>
</section>`;

/** The game page. */
export const GAME_PAGE = renderPage({ app: 'game', title: 'Arena', main: MAIN, script: 'game.js' });
