/** The index page of `switchboard serve` (`/`): what each demo app shows, and the endpoints underneath. */
import { renderPage } from './layout.js';

/** Line icons (24 × 24, current colour). */
const ICONS = {
  chat: '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><path d="M21 12a8 8 0 0 1-11.6 7.1L4 20.5l1.4-4.8A8 8 0 1 1 21 12z"/><path d="M8.5 10.5h7M8.5 14h4.5"/></svg>',
  dashboard: '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><path d="M3 3v18h18"/><path d="M7 15l4-5 3 3 5-7"/></svg>',
  notifications: '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><path d="M18 8a6 6 0 0 0-12 0c0 7-3 9-3 9h18s-3-2-3-9"/><path d="M13.7 21a2 2 0 0 1-3.4 0"/></svg>',
  admin: '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><rect x="3" y="4" width="18" height="7" rx="2"/><rect x="3" y="13" width="18" height="7" rx="2"/><path d="M7 7.5h.01M7 16.5h.01"/></svg>',
  ticker: '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><path d="M3 17l5-6 4 4 8-9"/><path d="M15 6h5v5"/></svg>',
  game: '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><circle cx="8" cy="14" r="4"/><path d="M11 11l6-6M14 5h3v3"/><circle cx="18" cy="17" r="1.5"/></svg>',
  whiteboard: '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><path d="M4 20c3 0 4-2 4-4a2.5 2.5 0 1 1 5 0c0 3-3 4-9 4z"/><path d="M11.5 13.5L20 5a1.4 1.4 0 0 0-2-2l-8.5 8.5"/></svg>',
};

interface AppCard {
  href: string;
  icon: string;
  title: string;
  summary: string;
  features: string[];
}

const CARDS: readonly AppCard[] = [
  {
    href: '/chat',
    icon: ICONS.chat,
    title: 'Chat',
    summary: 'Rooms with nicknames, who is here, and who is typing.',
    features: [
      'the last 100 messages of a room on join (channel history)',
      'presence list with join and leave events',
      'typing indicator on a channel without history',
      'survives a dropped network or a server restart: it reconnects and recovers what it missed, without duplicates',
    ],
  },
  {
    href: '/dashboard',
    icon: ICONS.dashboard,
    title: 'Live dashboard',
    summary: "This server's own metrics, streamed once a second.",
    features: [
      'connections, messages/s and bytes/s in and out',
      'memory (RSS, heap) and subscribers per channel',
      'charts drawn from a server-published channel clients cannot write to',
      'the same figures as Prometheus text at /metrics',
    ],
  },
  {
    href: '/whiteboard',
    icon: ICONS.whiteboard,
    title: 'Whiteboard',
    summary: 'Draw together; see everyone’s strokes and cursors live.',
    features: [
      'strokes sent as batches of points as you draw',
      'late joiners get the board so far: they subscribe since its last clear and the server replays the strokes',
      'other people’s cursors, throttled and never stored',
      'a clear button for everyone',
    ],
  },
  {
    href: '/ticker',
    icon: ICONS.ticker,
    title: 'Ticker',
    summary: 'A trading feed of 1,000 instruments, about 2,000 quotes a second.',
    features: [
      'a live table whose changes flash, and a chart of the instrument you pick',
      'quotes sent as deltas against the previous quote of the same instrument',
      'conflation: a subscriber that falls behind gets the latest quote per instrument and a count of the ones skipped',
      'the bytes saved and values skipped, live',
    ],
  },
  {
    href: '/game',
    icon: ICONS.game,
    title: 'Game',
    summary: 'A shared arena: steer, collect coins, see everyone move.',
    features: [
      'the server is the authority: it runs the game 20 times a second and publishes each state',
      'states as binary MessagePack; the page draws smoothly between the last two',
      'late joiners see the arena at once; a dropped player comes back as the same player',
      'bot players to fill it: switchboard serve --game-bots 50',
    ],
  },
  {
    href: '/notifications',
    icon: ICONS.notifications,
    title: 'Notifications',
    summary: 'Your bell, fed by one curl command from any backend.',
    features: [
      'a personal channel only you can read: notifications:#your-user-id',
      'sent through the server API (POST /api/publish with the API key)',
      'unread count and list kept across reloads and reconnects (channel history)',
      'mark all read',
    ],
  },
  {
    href: '/admin',
    icon: ICONS.admin,
    title: 'Admin',
    summary: 'Nodes, connections and channels, live — with the API key.',
    features: [
      'only when the server runs with --api-key; the key stays in your tab',
      'every node (worker) with its connections, channels and subscriptions',
      'subscribers per channel, who is present, a user’s connections',
      'disconnect a connection or a user on every node',
    ],
  },
];

function card(app: AppCard): string {
  const features = app.features.map((feature) => `<li>${feature}</li>`).join('');
  return `<a class="card panel" href="${app.href}">
    <span class="icon" aria-hidden="true">${app.icon}</span>
    <h2>${app.title}</h2>
    <p>${app.summary}</p>
    <ul>${features}</ul>
    <span class="go">Open ${app.title.toLowerCase()} →</span>
  </a>`;
}

const MAIN = `<section class="hero">
  <h1>Real-time demos, running on this server</h1>
  <p>Small apps built on the Switchboard client SDK and server API, talking to the real-time server of this process.
  Open each one in two windows side by side (or on two devices) and watch them stay in sync.</p>
</section>
<section class="cards">${CARDS.map(card).join('')}</section>
<section class="panel under-the-hood">
  <h2>Under the hood</h2>
  <dl>
    <dt><code>/rt</code></dt><dd>the real-time WebSocket endpoint (protocol in docs/protocol.md)</dd>
    <dt><code>/switchboard-sdk.js</code></dt><dd>the browser SDK, one ES module: <code>import { RealtimeClient } from '/switchboard-sdk.js'</code></dd>
    <dt><code>/metrics</code></dt><dd>Prometheus metrics of this process</dd>
    <dt><code>/healthz</code></dt><dd>health check: 200 while the broker is reachable</dd>
  </dl>
</section>`;

/** The index page. */
export const HOME_PAGE = renderPage({ app: 'home', title: 'Demo apps', main: MAIN });
