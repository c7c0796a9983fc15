/**
 * The chat page (/apps/chat.js). A room is the channel `chat:<room>` (last
 * 100 messages kept for an hour, presence with join/leave) plus
 * `typing:<room>` (no history) for the typing indicator.
 *
 * Joining loads the history first and then subscribes *since* its
 * position, so every later message arrives exactly once. After a dropped
 * connection the SDK resubscribes since the last message seen and the
 * server sends what was missed; when it cannot (the server lost its
 * history) the page says so and loads the history again. Messages are keyed
 * by stream epoch and offset, so nothing is shown twice.
 */
import type { Subscription, PresenceMember, TypedPublication } from '../../../realtime/sdk/index.js';
import { ROOM_NAME, type ChatMessage, type TypingSignal } from './api.js';
import { appendLine, closeDrawers, isAtBottom, scrollToEnd, showNewMessages, wireDrawers, wireScrolling } from './chat-panels.js';
import { checkComposer, enableComposer, notSentReason, showComposerNote } from './composer.js';
import { avatar, byId, connectDemo, element, isOwnUser, nameFromUrl, nameplate, nameWithTag, plural, setUrlParam, whenPossible, type DemoClient } from './common.js';
import { isChatMessage, isTypingSignal, userInfoOf } from './guards.js';

const HISTORY_LIMIT = 100;
const DEFAULT_ROOMS = ['lobby', 'random', 'help'];
const ROOMS_KEY = 'switchboard-demo-rooms';
/** Typing is re-announced at most this often while typing ... */
const TYPING_REPEAT = 2000;
/** ... and shown this long after the last announcement. */
const TYPING_SHOWN = 3500;
/** Messages of one author closer than this are grouped. */
const GROUP_WINDOW = 5 * 60_000;

const { client } = await connectDemo();
let room: RoomView | null = null;

function timeText(ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** Rooms visited before, newest first, after the default ones. */
function knownRooms(current: string): string[] {
  let stored: unknown = [];
  try {
    stored = JSON.parse(localStorage.getItem(ROOMS_KEY) ?? '[]');
  } catch {
    // a broken entry is replaced below
  }
  const visited = Array.isArray(stored) ? stored.filter((name): name is string => typeof name === 'string' && ROOM_NAME.test(name)) : [];
  const rooms = [...new Set([...DEFAULT_ROOMS, current, ...visited])];
  localStorage.setItem(ROOMS_KEY, JSON.stringify(rooms.filter((name) => !DEFAULT_ROOMS.includes(name)).slice(0, 12)));
  return rooms;
}

function renderRooms(current: string): void {
  const list = byId('rooms');
  list.replaceChildren(
    ...knownRooms(current).map((name) => {
      const item = element('li');
      const link = element('a', name === current ? 'active' : '', `# ${name}`);
      link.href = `?room=${name}`;
      link.addEventListener('click', (event) => {
        event.preventDefault();
        enterRoom(name);
      });
      item.append(link);
      return item;
    }),
  );
}

/** One room on screen: its subscriptions, messages, people and typists. */
class RoomView {
  readonly channel: `chat:${string}`;
  private readonly messages = byId<HTMLOListElement>('messages');
  private readonly chat: Subscription<ChatMessage>;
  private readonly typing: Subscription<TypingSignal>;
  /** Rendered messages by `epoch:offset`. */
  private readonly shown = new Set<string>();
  /** Epochs in the order first seen: messages sort by (epoch order, offset). */
  private readonly epochs: string[] = [];
  private readonly people = new Map<string, PresenceMember>();
  private readonly typists = new Map<string, { label: string; timer: number }>();
  /** Publications that were not valid messages (old or hostile history): skipped, counted, said once. */
  private skipped = 0;
  private skippedNote: HTMLLIElement | null = null;
  private epoch = '';
  private lastTypingSent = 0;
  private closed = false;

  constructor(
    readonly name: string,
    history: { offset: number; epoch: string } | null,
  ) {
    this.channel = `chat:${name}`;
    this.chat = client.subscribe(this.channel, history === null ? {} : { since: { offset: history.offset, epoch: history.epoch } });
    this.typing = client.subscribe(`typing:${name}`);
    // The subscription's epoch, which its first publication names when the room's stream is new.
    this.chat.on('publication', (publication) => this.add(publication, this.chat.position?.epoch ?? this.epoch));
    this.chat.on('subscribed', (event) => this.subscribed(event.position.epoch, event.recovered));
    this.chat.on('join', (member) => this.joined(member));
    this.chat.on('leave', (member) => this.left(member));
    this.typing.on('publication', ({ data, info }) => {
      if (info !== undefined && info.client !== client.clientId && isTypingSignal(data)) this.typingSignal(info, data.typing);
    });
  }

  /**
   * Shows publications of `epoch` (history or live), each once, in stream
   * order. One that is not a valid message is skipped and counted: it never
   * stops the room from working.
   */
  add(publication: TypedPublication<ChatMessage>, epoch: string): void {
    const key = `${epoch}:${publication.offset}`;
    if (this.closed || this.shown.has(key)) return;
    this.shown.add(key);
    if (!isChatMessage(publication.data) || typeof publication.offset !== 'number') return this.skip();
    if (!this.epochs.includes(epoch)) this.epochs.push(epoch);
    this.messages.querySelector('.empty')?.remove();
    let item: HTMLLIElement;
    try {
      item = this.messageItem(publication, epoch);
    } catch {
      return this.skip();
    }
    this.insert(item);
    if (publication.info !== undefined) this.typists.delete(publication.info.user);
    this.renderTyping();
  }

  /** Counts a publication that could not be shown, and says how many there were. */
  private skip(): void {
    this.skipped++;
    this.messages.dataset.skipped = String(this.skipped);
    if (this.skippedNote === null) {
      this.skippedNote = element('li', 'system skipped');
      this.messages.prepend(this.skippedNote);
    }
    this.skippedNote.textContent = `${plural(this.skipped, 'message')} could not be shown (not a valid message).`;
  }

  /** Starts with the history (shown before any live message). */
  showHistory(publications: Array<TypedPublication<ChatMessage>>, epoch: string): void {
    this.epoch = epoch;
    for (const publication of publications) this.add(publication, epoch);
    if (this.messages.querySelector('li.message') === null) {
      this.messages.querySelector('.empty')?.remove();
      this.messages.append(element('li', 'empty', `No messages in #${this.name} yet. Say hello!`));
    }
  }

  async send(text: string): Promise<void> {
    this.stopTyping();
    await this.chat.publish({ text, sent: Date.now() });
  }

  /** Announces typing, at most every TYPING_REPEAT ms. */
  typed(empty: boolean): void {
    if (empty) return this.stopTyping();
    const now = Date.now();
    if (now - this.lastTypingSent < TYPING_REPEAT || client.state !== 'connected') return;
    this.lastTypingSent = now;
    this.typing.publish({ typing: true }).catch(() => {});
  }

  close(): void {
    this.closed = true;
    this.stopTyping();
    this.chat.unsubscribe();
    this.typing.unsubscribe();
    for (const { timer } of this.typists.values()) clearTimeout(timer);
  }

  private stopTyping(): void {
    if (this.lastTypingSent === 0) return;
    this.lastTypingSent = 0;
    if (client.state === 'connected') this.typing.publish({ typing: false }).catch(() => {});
  }

  private messageItem(publication: TypedPublication<ChatMessage>, epoch: string): HTMLLIElement {
    const user = typeof publication.info?.user === 'string' ? publication.info.user : '';
    const info = publication.info === undefined ? { name: 'server', color: '#667085' } : userInfoOf(publication.info);
    const sent = publication.data.sent;
    const item = element('li', 'message');
    item.dataset.key = `${this.epochs.indexOf(epoch)}:${publication.offset}`;
    item.dataset.user = user;
    item.dataset.sent = String(sent);
    const author = nameplate(user, info, 'author');
    author.style.color = info.color;
    const time = element('time', '', timeText(sent));
    const meta = element('div', 'meta');
    meta.append(author, time);
    const body = element('div', 'body');
    body.append(meta, element('p', 'text', publication.data.text));
    item.append(avatar(info.name, info.color), body);
    return item;
  }

  /** The first rendered message that sorts after `key` ("epochIndex:offset"), searching from the end. */
  private messageAfter(key: string): HTMLLIElement | null {
    const [epoch, offset] = key.split(':').map(Number) as [number, number];
    let after: HTMLLIElement | null = null;
    const rendered = this.messages.querySelectorAll<HTMLLIElement>('li.message');
    for (let i = rendered.length - 1; i >= 0; i--) {
      const [otherEpoch, otherOffset] = rendered[i]!.dataset.key!.split(':').map(Number) as [number, number];
      if (otherEpoch < epoch || (otherEpoch === epoch && otherOffset < offset)) break;
      after = rendered[i]!;
    }
    return after;
  }

  /** Inserts a message in (epoch, offset) order and groups it with the one before when the author is the same. */
  private insert(item: HTMLLIElement): void {
    const after = this.messageAfter(item.dataset.key!);
    const follow = after === null && isAtBottom(this.messages);
    this.messages.insertBefore(item, after);
    const previous = item.previousElementSibling as HTMLLIElement | null;
    const grouped = previous?.classList.contains('message') === true && previous.dataset.user === item.dataset.user && Number(item.dataset.sent) - Number(previous.dataset.sent) < GROUP_WINDOW;
    item.classList.toggle('continued', grouped);
    if (follow) scrollToEnd();
    else if (after === null) showNewMessages(true);
  }

  private subscribed(epoch: string, recovered: boolean | undefined): void {
    const lost = recovered === false;
    this.epoch = epoch;
    void this.loadPresence();
    if (!lost) return;
    this.system('The server lost this room’s recent history (did it restart?). Messages may be missing above this line.', true);
    void client.history(this.channel, { limit: HISTORY_LIMIT }).then(
      (history) => history.publications.forEach((publication) => this.add(publication, history.epoch)),
      () => {},
    );
  }

  private async loadPresence(): Promise<void> {
    try {
      const members = await this.chat.presence();
      this.people.clear();
      for (const member of members) this.people.set(member.client, member);
      this.renderPeople();
    } catch {
      // shown again on the next join/leave or resubscription
    }
  }

  private usersPresent(user: string): number {
    return [...this.people.values()].filter((member) => member.user === user).length;
  }

  private joined(member: PresenceMember): void {
    const first = this.usersPresent(member.user) === 0;
    this.people.set(member.client, member);
    this.renderPeople();
    if (first && member.client !== client.clientId) this.system(`${nameWithTag(member)} joined`);
  }

  private left(member: PresenceMember): void {
    if (!this.people.delete(member.client)) return;
    this.renderPeople();
    if (this.usersPresent(member.user) === 0 && !isOwnUser(member.user)) this.system(`${nameWithTag(member)} left`);
    this.typingSignal(member, false);
  }

  private system(text: string, warn = false): void {
    this.messages.querySelector('.empty')?.remove();
    appendLine(element('li', warn ? 'system warn' : 'system', text));
  }

  private renderPeople(): void {
    const byUser = new Map<string, { member: PresenceMember; tabs: number }>();
    for (const member of this.people.values()) {
      if (typeof member.user !== 'string') continue;
      const entry = byUser.get(member.user);
      if (entry === undefined) byUser.set(member.user, { member, tabs: 1 });
      else entry.tabs++;
    }
    const items = [...byUser.values()]
      .sort((a, b) => userInfoOf(a.member).name.localeCompare(userInfoOf(b.member).name) || a.member.user.localeCompare(b.member.user))
      .map(({ member, tabs }) => {
        const info = userInfoOf(member);
        const item = element('li');
        item.dataset.user = member.user;
        item.append(avatar(info.name, info.color, true), nameplate(member.user, info));
        if (isOwnUser(member.user)) item.append(element('span', 'you', '(you)'));
        if (tabs > 1) item.append(element('span', 'tabs', `${tabs} tabs`));
        return item;
      });
    byId('people').replaceChildren(...items);
    byId('people-count').textContent = `(${byUser.size})`;
    byId('people-toggle-count').textContent = `(${byUser.size})`;
    byId('room-meta').textContent = `${byUser.size} ${byUser.size === 1 ? 'person' : 'people'} here`;
  }

  private typingSignal(who: { user: string; info?: unknown }, typing: boolean): void {
    const previous = this.typists.get(who.user);
    if (previous !== undefined) clearTimeout(previous.timer);
    if (!typing) this.typists.delete(who.user);
    else {
      const timer = window.setTimeout(() => {
        this.typists.delete(who.user);
        this.renderTyping();
      }, TYPING_SHOWN);
      this.typists.set(who.user, { label: nameWithTag(who), timer });
    }
    this.renderTyping();
  }

  private renderTyping(): void {
    const names = [...this.typists.values()].map(({ label }) => label);
    const line = byId('typing');
    if (names.length === 0) line.textContent = '';
    else if (names.length === 1) line.textContent = `${names[0]} is typing…`;
    else if (names.length === 2) line.textContent = `${names[0]} and ${names[1]} are typing…`;
    else line.textContent = `${names.length} people are typing…`;
  }
}

/** Counts room changes, so that a slow history load does not open a room left meanwhile. */
let entering = 0;

/** Shows `name`: loads its history, then subscribes from there. */
async function enterRoom(name: string): Promise<void> {
  const ticket = ++entering;
  room?.close();
  room = null;
  setUrlParam('room', name === 'lobby' ? null : name);
  renderRooms(name);
  byId('room-title').textContent = `# ${name}`;
  byId('room-meta').textContent = '';
  byId('messages').replaceChildren(element('li', 'empty', 'Loading…'));
  delete byId('messages').dataset.skipped;
  byId('people').replaceChildren();
  byId('people-toggle-count').textContent = '';
  byId('typing').textContent = '';
  showNewMessages(false);
  closeDrawers();
  byId<HTMLInputElement>('message-input').placeholder = `Message #${name}`;
  enableComposer(false);
  const history = await whenPossible(client, () => client.history(`chat:${name}`, { limit: HISTORY_LIMIT }), () => ticket === entering);
  if (ticket !== entering) return;
  const view = new RoomView(name, history);
  room = view;
  view.showHistory(history?.publications ?? [], history?.epoch ?? '');
  scrollToEnd();
  enableComposer(true);
}

function wireComposer(): void {
  const input = byId<HTMLInputElement>('message-input');
  input.addEventListener('input', () => {
    checkComposer();
    room?.typed(input.value.trim() === '');
  });
  byId('composer').addEventListener('submit', (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!checkComposer() || room === null) return;
    input.value = '';
    checkComposer();
    scrollToEnd();
    room.send(text).catch((error: unknown) => {
      if (input.value.trim() === '') input.value = text;
      checkComposer();
      showComposerNote(notSentReason(error), 'error');
    });
  });
  byId('room-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const field = byId<HTMLInputElement>('room-input');
    const name = field.value.trim();
    if (!ROOM_NAME.test(name)) return showError('Room names use letters, digits, - and _ (up to 40).');
    field.value = '';
    void enterRoom(name);
  });
}

function showError(text: string): void {
  appendLine(element('li', 'system warn', text));
}

/** A connection the client will not retry (e.g. refused) is said in the conversation. */
function watchDisconnect(demo: DemoClient): void {
  demo.on('disconnected', (event) => {
    if (!event.reconnect) showError(`Disconnected (${event.code}${event.reason === '' ? '' : `: ${event.reason}`}). Reload the page to try again.`);
  });
}

wireComposer();
wireScrolling();
wireDrawers();
watchDisconnect(client);
void enterRoom(nameFromUrl('room', ROOM_NAME, 'lobby'));
