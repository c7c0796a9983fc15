/** The chat app's page (`/chat`); its script is web/chat.ts. */
import { renderPage } from './layout.js';

const MAIN = `<div class="chat">
  <aside class="panel rooms">
    <h2 class="panel-title">Rooms</h2>
    <ul id="rooms"></ul>
    <form id="room-form" autocomplete="off">
      <input id="room-input" placeholder="new-room" maxlength="40" pattern="[A-Za-z0-9_\\-]{1,40}" title="letters, digits, - and _">
      <button class="button" type="submit">Go</button>
    </form>
  </aside>
  <section class="panel conversation">
    <header><h1 id="room-title"># lobby</h1><span id="room-meta"></span></header>
    <ol id="messages" class="messages" aria-live="polite"></ol>
    <div id="typing" class="typing"></div>
    <form id="composer" class="composer" autocomplete="off">
      <input id="message-input" placeholder="Write a message" maxlength="2000">
      <button class="button primary" type="submit">Send</button>
    </form>
  </section>
  <aside class="panel people">
    <h2 class="panel-title">Here now <span id="people-count"></span></h2>
    <ul id="people"></ul>
  </aside>
</div>`;

/** The chat page. */
export const CHAT_PAGE = renderPage({ app: 'chat', title: 'Chat', main: MAIN, script: 'chat.js' });
