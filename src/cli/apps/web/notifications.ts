/**
 * The notifications app (/apps/notifications.js): the user's personal
 * channel `notifications:#<user>`, which backends publish in through the
 * server API. The page loads the channel's history (the last 100, kept a
 * day), then subscribes *since* its position, so a reconnect recovers what
 * was missed. What the user has read is the offset (and epoch) of the
 * newest notification at their last "Mark all read", kept in localStorage
 * per user: the unread count survives a reload. Messages sent to the user
 * with the API's `send` are shown too, live only.
 */
import type { TypedPublication } from '../../../realtime/sdk/index.js';
import { notificationChannel, type Notification } from './api.js';
import { byId, connectDemo, element, plural, whenPossible } from './common.js';
import { isNotification } from './guards.js';

/** How many notifications the page loads (the channel keeps 100). */
const HISTORY_LIMIT = 100;
const READ_KEY = 'switchboard-notifications-read:';

/** Where the reader stopped: the newest notification read. */
interface ReadMark {
  epoch: string;
  offset: number;
}

/** One notification on screen. */
interface Entry {
  key: string;
  /** Undefined for a live-only message (`send`). */
  epoch?: string;
  offset?: number;
  /** The order of arrival, for live-only messages. */
  arrival: number;
  data: Notification;
  /** A live-only message the reader has not marked read. */
  liveUnread?: boolean;
}

const { client, connected } = await connectDemo();
const first = await connected;
const user = first.user;
const channel = notificationChannel(user);
const list = byId<HTMLOListElement>('notifications');
const entries = new Map<string, Entry>();
/** Epochs in the order first seen: entries sort by (epoch order, offset). */
const epochs: string[] = [];
let arrivals = 0;
/** Publications that were not valid notifications: skipped, counted. */
const skippedKeys = new Set<string>();
let currentEpoch = '';

// A guest whose token the server no longer accepts (it restarted with a new secret) is someone else now.
client.on('connected', (result) => {
  if (result.user !== user) location.reload();
});

function readMark(): ReadMark | null {
  try {
    const value = JSON.parse(localStorage.getItem(READ_KEY + user) ?? 'null') as unknown;
    if (typeof value !== 'object' || value === null) return null;
    const { epoch, offset } = value as Record<string, unknown>;
    return typeof epoch === 'string' && typeof offset === 'number' ? { epoch, offset } : null;
  } catch {
    return null;
  }
}

function isUnread(entry: Entry, mark: ReadMark | null): boolean {
  if (entry.offset === undefined) return entry.liveUnread === true;
  if (mark === null || mark.epoch !== entry.epoch) return true;
  return entry.offset > mark.offset;
}

/** Newest first: later epochs, then higher offsets; live-only messages by arrival among them. */
function ordered(): Entry[] {
  const rank = (entry: Entry): [number, number] =>
    entry.epoch === undefined ? [Number.MAX_SAFE_INTEGER, entry.arrival] : [epochs.indexOf(entry.epoch), entry.offset ?? 0];
  return [...entries.values()].sort((a, b) => {
    if (a.epoch === undefined && b.epoch === undefined) return b.arrival - a.arrival;
    if (a.epoch === undefined || b.epoch === undefined) return b.arrival - a.arrival;
    const [ea, oa] = rank(a);
    const [eb, ob] = rank(b);
    return eb - ea || ob - oa;
  });
}

function timeText(date: Date): string {
  return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** One notification as DOM (text only: the data never becomes markup). */
function item(entry: Entry, unread: boolean): HTMLLIElement {
  const { data } = entry;
  const li = element('li', 'notification');
  li.dataset.level = data.level ?? 'info';
  li.dataset.key = entry.key;
  if (unread) li.dataset.unread = 'true';
  li.append(element('span', 'level-dot'));
  const content = element('div', 'content');
  const title = element('div', 'title');
  if (data.url !== undefined) {
    const link = element('a', '', data.title);
    link.href = data.url;
    link.target = '_blank';
    link.rel = 'noopener noreferrer';
    title.append(link);
  } else {
    title.textContent = data.title;
  }
  content.append(title);
  if (data.body !== undefined && data.body !== '') content.append(element('p', 'body', data.body));
  const meta = entry.offset === undefined ? `live message · ${timeText(new Date())}` : `#${entry.offset}`;
  content.append(element('div', 'meta', meta));
  li.append(content);
  return li;
}

function render(): void {
  const mark = readMark();
  const sorted = ordered();
  let unread = 0;
  list.replaceChildren(
    ...sorted.map((entry) => {
      const isNew = isUnread(entry, mark);
      if (isNew) unread++;
      return item(entry, isNew);
    }),
  );
  const badge = byId('unread-count');
  badge.textContent = unread > 99 ? '99+' : String(unread);
  badge.setAttribute('aria-label', `${plural(unread, 'unread notification')}`);
  byId('bell').dataset.unread = String(unread);
  byId<HTMLButtonElement>('mark-read').disabled = unread === 0;
  byId('inbox-empty').hidden = sorted.length > 0;
  const parts = [unread === 0 ? 'all read' : `${unread} unread`, plural(sorted.length, 'notification')];
  if (skippedKeys.size > 0) parts.push(`${skippedKeys.size} not shown (not a valid notification)`);
  byId('inbox-meta').textContent = parts.join(' · ');
  document.title = `${unread > 0 ? `(${unread}) ` : ''}Notifications · Switchboard`;
}

function add(publication: TypedPublication<Notification>, epoch: string): void {
  const key = `${epoch}:${publication.offset}`;
  if (entries.has(key)) return;
  if (!isNotification(publication.data) || typeof publication.offset !== 'number') {
    if (!skippedKeys.has(key)) skippedKeys.add(key);
    return;
  }
  if (!epochs.includes(epoch)) epochs.push(epoch);
  entries.set(key, { key, epoch, offset: publication.offset, arrival: arrivals++, data: publication.data });
}

function showHistory(history: { publications: Array<TypedPublication<Notification>>; offset: number; epoch: string }): void {
  currentEpoch = history.epoch;
  for (const publication of history.publications) add(publication, history.epoch);
  render();
}

/** Marks everything shown as read: the newest offset of the current epoch, and the live messages. */
function markAllRead(): void {
  let newest = 0;
  for (const entry of entries.values()) {
    if (entry.epoch === currentEpoch && entry.offset !== undefined) newest = Math.max(newest, entry.offset);
    entry.liveUnread = false;
  }
  if (currentEpoch !== '') localStorage.setItem(READ_KEY + user, JSON.stringify({ epoch: currentEpoch, offset: newest } satisfies ReadMark));
  render();
}

/** Fills in the user id and the command that notifies this user. */
function showSender(): void {
  byId<HTMLInputElement>('user-id').value = user;
  byId('channel-name').textContent = channel;
  const body = JSON.stringify({ channel, data: { title: 'Build passed', body: 'main is green', level: 'success' } });
  byId<HTMLTextAreaElement>('curl-command').value = `curl -X POST ${location.origin}/api/publish -H "X-API-Key: $SWITCHBOARD_API_KEY" -d '${body}'`;
  document.querySelectorAll<HTMLButtonElement>('button[data-copy]').forEach((button) => button.addEventListener('click', () => void copy(button)));
}

async function copy(button: HTMLButtonElement): Promise<void> {
  const field = byId<HTMLInputElement | HTMLTextAreaElement>(button.dataset.copy ?? '');
  try {
    await navigator.clipboard.writeText(field.value);
    button.textContent = 'Copied';
  } catch {
    // No clipboard (an http:// page on a LAN address): select the text for Ctrl+C.
    field.select();
    button.textContent = 'Press Ctrl+C';
  }
  setTimeout(() => (button.textContent = 'Copy'), 1500);
}

showSender();
byId('mark-read').addEventListener('click', markAllRead);
client.on('message', (data) => {
  if (!isNotification(data)) return;
  const key = `live:${arrivals}`;
  entries.set(key, { key, arrival: arrivals++, data, liveUnread: true });
  render();
});

const history = await whenPossible(client, () => client.history(channel, { limit: HISTORY_LIMIT }));
if (history !== null) showHistory(history);
else render();
const subscription = client.subscribe(channel, history === null ? {} : { since: { offset: history.offset, epoch: history.epoch } });
subscription.on('publication', (publication) => {
  add(publication, subscription.position?.epoch ?? currentEpoch);
  render();
});
subscription.on('subscribed', ({ position, recovered }) => {
  currentEpoch = position.epoch;
  // The server lost what this page missed (a restart with the in-memory broker): load what it has.
  if (recovered === false) void whenPossible(client, () => client.history(channel, { limit: HISTORY_LIMIT })).then((again) => again !== null && showHistory(again));
});
