/** The collaborative whiteboard's page (`/whiteboard`); its script is web/whiteboard.ts. */
import { renderPage } from './layout.js';

const MAIN = `<div class="board">
  <div class="panel toolbar">
    <h1 id="board-title">Board</h1>
    <div class="swatches" id="swatches" role="group" aria-label="Colour"></div>
    <div class="sizes" id="sizes" role="group" aria-label="Brush size"></div>
    <button class="button" id="clear" type="button">Clear board</button>
    <span class="spacer"></span>
    <div class="drawers" id="drawers"></div>
  </div>
  <div class="canvas-wrap" id="canvas-wrap">
    <div class="canvas-frame" id="canvas-frame">
      <canvas id="canvas" aria-label="Shared drawing board"></canvas>
    </div>
  </div>
</div>`;

/** The whiteboard page. */
export const WHITEBOARD_PAGE = renderPage({ app: 'whiteboard', title: 'Whiteboard', main: MAIN, script: 'whiteboard.js' });
