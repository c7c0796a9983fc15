/** The chat app's page (`/chat`); its script is web/chat.ts. */
import { renderPage } from './layout.js';

/**
 * Three columns on a wide screen; on a narrow one the conversation alone,
 * with the rooms and people panels as drawers its header's buttons open.
 */
const MAIN = `<div class="chat">
  <aside class="panel rooms" id="rooms-panel" aria-label="Rooms">
    <div class="panel-head"><h2 class="panel-title">Rooms</h2><button class="drawer-close" id="rooms-close" type="button" aria-label="Close the rooms">×</button></div>
    <ul id="rooms"></ul>
    <form id="room-form" autocomplete="off">
      <input id="room-input" placeholder="new-room" maxlength="40" pattern="[A-Za-z0-9_\\-]{1,40}" title="letters, digits, - and _">
      <button class="button" type="submit">Go</button>
    </form>
  </aside>
  <section class="panel conversation">
    <header>
      <button class="button drawer-toggle" id="rooms-toggle" type="button" aria-controls="rooms-panel" aria-expanded="false">Rooms</button>
      <h1 id="room-title"># lobby</h1><span id="room-meta"></span>
      <button class="button drawer-toggle" id="people-toggle" type="button" aria-controls="people-panel" aria-expanded="false">People <span id="people-toggle-count"></span></button>
    </header>
    <div class="messages-wrap">
      <ol id="messages" class="messages" aria-live="polite"></ol>
      <button class="new-messages" id="new-messages" type="button" hidden>New messages ↓</button>
    </div>
    <div id="typing" class="typing"></div>
    <p id="composer-note" class="composer-note" role="status" hidden></p>
    <form id="composer" class="composer" autocomplete="off">
      <input id="message-input" placeholder="Write a message" aria-describedby="composer-note">
      <button class="button primary" id="send" type="submit">Send</button>
    </form>
  </section>
  <aside class="panel people" id="people-panel" aria-label="Here now">
    <div class="panel-head"><h2 class="panel-title">Here now <span id="people-count"></span></h2><button class="drawer-close" id="people-close" type="button" aria-label="Close the list of people">×</button></div>
    <ul id="people"></ul>
  </aside>
  <div class="drawer-backdrop" id="drawer-backdrop" hidden></div>
</div>`;

/** The chat page. */
export const CHAT_PAGE = renderPage({ app: 'chat', title: 'Chat', main: MAIN, script: 'chat.js' });
