/**
 * The admin page (/apps/admin.js), built on the server API only: every
 * figure comes from `POST /api/<method>` with the key in `X-API-Key`. The
 * key is asked for once and kept in sessionStorage (this tab only); a key
 * the server refuses is dropped and asked for again.
 *
 * Every 2 s the page reads `info` (the nodes and their counts) and
 * `channels` (subscribers per channel, filtered by a pattern), and the
 * presence of the channel it shows, and the connections of the user it
 * shows (`connections` with `user`: every node's, whatever they are
 * subscribed to); *Disconnect* calls `disconnect` for one connection or for
 * every connection of the user, on every node.
 */
import { byId, element, plural } from './common.js';
import { userInfoOf } from './guards.js';

const KEY_STORE = 'switchboard-admin-key';
/** How often the page reads the API again (ms). */
const POLL_INTERVAL = 2000;
/** Most connections of one user the page lists (one `connections` page). */
const MAX_USER_CONNECTIONS = 100;
/** The close code and reason of the page's disconnects: the client may reconnect (4000). */
const DISCONNECT = { code: 4000, reason: 'disconnected by an administrator' };

interface NodeRow {
  uid: string;
  name: string;
  num_clients: number;
  num_users: number;
  num_channels: number;
  num_subs: number;
  uptime: number;
}

/** A connection as `connections` shows it (the fields the page uses). */
interface ConnectionRow {
  client: string;
  nodeName: string;
  transport: string;
  subscriptions: number;
}

interface Member {
  client: string;
  user: string;
  info?: unknown;
}

/** A refusal of the API: its HTTP status and error code. */
class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let key = sessionStorage.getItem(KEY_STORE) ?? '';
let pollTimer: number | undefined;
let shownChannel: string | null = null;
let shownUser: string | null = null;
let channelCounts: Array<[string, number]> = [];
/** Namespaces without presence (learnt from `unavailable` answers). */
const noPresence = new Set<string>();

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0;
}

/** Calls a method of the server API; throws ApiFailure when it answers an error. */
async function call(method: string, params: object = {}): Promise<Record<string, unknown>> {
  let response: Response;
  try {
    response = await fetch(`/api/${method}`, {
      method: 'POST',
      headers: { 'X-API-Key': key, 'Content-Type': 'application/json' },
      body: JSON.stringify(params),
      cache: 'no-store',
    });
  } catch {
    throw new ApiFailure(0, 'network', 'the server cannot be reached');
  }
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: the status says enough
  }
  if (isRecord(body) && isRecord(body['result']) && response.ok) return body['result'];
  const error = isRecord(body) && isRecord(body['error']) ? body['error'] : {};
  const code = typeof error['code'] === 'string' ? error['code'] : 'internal';
  const message = typeof error['message'] === 'string' ? error['message'] : `HTTP ${response.status}`;
  throw new ApiFailure(response.status, code, message);
}

function formatUptime(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
  return `${Math.floor(seconds / 86400)} d ${Math.floor((seconds % 86400) / 3600)} h`;
}

function cell(text: string, className = ''): HTMLTableCellElement {
  return element('td', className, text);
}

function setTile(id: string, value: number): void {
  const tile = byId(`sum-${id}`);
  tile.querySelector('.value')!.textContent = value.toLocaleString('en-US');
  tile.dataset.value = String(value);
}

function nodesOf(result: Record<string, unknown>): NodeRow[] {
  const nodes = Array.isArray(result['nodes']) ? result['nodes'] : [];
  return nodes.filter(isRecord).map((node) => ({
    uid: typeof node['uid'] === 'string' ? node['uid'] : '',
    name: typeof node['name'] === 'string' ? node['name'] : '?',
    num_clients: count(node['num_clients']),
    num_users: count(node['num_users']),
    num_channels: count(node['num_channels']),
    num_subs: count(node['num_subs']),
    uptime: count(node['uptime']),
  }));
}

function renderNodes(nodes: NodeRow[], channels: number): void {
  byId('nodes').replaceChildren(
    ...nodes.map((node) => {
      const row = element('tr');
      row.dataset.node = node.uid;
      const name = cell(node.name, 'node-name');
      name.title = node.uid;
      row.append(name, cell(String(node.num_clients), 'count'), cell(String(node.num_users), 'count wide-only'), cell(String(node.num_channels), 'count wide-only'), cell(String(node.num_subs), 'count'), cell(formatUptime(node.uptime), 'count'));
      return row;
    }),
  );
  setTile('nodes', nodes.length);
  setTile('connections', nodes.reduce((sum, node) => sum + node.num_clients, 0));
  setTile('users', nodes.reduce((sum, node) => sum + node.num_users, 0));
  setTile('channels', channels);
  setTile('subscriptions', nodes.reduce((sum, node) => sum + node.num_subs, 0));
}

function channelsOf(result: Record<string, unknown>): Array<[string, number]> {
  const channels = isRecord(result['channels']) ? result['channels'] : {};
  return Object.entries(channels).map(([name, stats]) => [name, isRecord(stats) ? count(stats['num_clients']) : 0]);
}

function renderChannels(channels: Array<[string, number]>, more: boolean): void {
  const body = byId('channels');
  if (channels.length === 0) {
    const row = element('tr', 'empty');
    const empty = cell('No channel has subscribers.');
    empty.colSpan = 3;
    row.append(empty);
    body.replaceChildren(row);
    return;
  }
  body.replaceChildren(
    ...channels.map(([name, subscribers]) => {
      const row = element('tr');
      row.dataset.channel = name;
      const who = element('button', 'button small', 'Who is here');
      who.type = 'button';
      who.addEventListener('click', () => showPresence(name));
      if (noPresence.has(namespaceOf(name))) who.disabled = true;
      const actions = cell('', 'actions');
      actions.append(who);
      row.append(cell(name, 'channel-name'), cell(String(subscribers), 'count'), actions);
      return row;
    }),
  );
  if (more) {
    const row = element('tr', 'empty');
    const text = cell(`The first ${channels.length.toLocaleString('en-US')} channels by name; a filter narrows them.`);
    text.colSpan = 3;
    row.append(text);
    body.append(row);
  }
}

function namespaceOf(channel: string): string {
  const colon = channel.indexOf(':');
  return colon === -1 ? '' : channel.slice(0, colon);
}

function membersOf(result: Record<string, unknown>): Member[] {
  const presence = isRecord(result['presence']) ? result['presence'] : {};
  return Object.values(presence)
    .filter(isRecord)
    .filter((member) => typeof member['client'] === 'string' && typeof member['user'] === 'string')
    .map((member) => ({ client: member['client'] as string, user: member['user'] as string, info: member['info'] }));
}

/** A button that disconnects a connection or a user, and says what happened in `note`. */
function disconnectButton(label: string, target: { client: string } | { user: string }, note: HTMLElement): HTMLButtonElement {
  const button = element('button', 'button small danger', label);
  button.type = 'button';
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      const result = await call('disconnect', { ...target, ...DISCONNECT });
      note.textContent = `Disconnected ${plural(count(result['connections']), 'connection')}.`;
      void refresh();
    } catch (error) {
      note.textContent = `Could not disconnect: ${(error as Error).message}`;
      button.disabled = false;
    }
  });
  return button;
}

function userLabel(member: Member): string {
  const { name } = userInfoOf(member);
  return name === member.user ? member.user : `${name} (${member.user})`;
}

async function showPresence(channel: string): Promise<void> {
  shownChannel = channel;
  byId('presence-channel').textContent = channel;
  byId('presence-panel').hidden = false;
  await refreshPresence();
}

async function refreshPresence(): Promise<void> {
  const channel = shownChannel;
  if (channel === null) return;
  const body = byId('presence');
  let members: Member[];
  try {
    members = membersOf(await call('presence', { channel }));
  } catch (error) {
    if (error instanceof ApiFailure && error.code === 'unavailable') noPresence.add(namespaceOf(channel));
    const row = element('tr', 'empty');
    const text = cell(error instanceof ApiFailure && error.code === 'unavailable' ? `The ${namespaceOf(channel)} namespace has no presence.` : (error as Error).message);
    text.colSpan = 3;
    row.append(text);
    body.replaceChildren(row);
    return;
  }
  if (channel !== shownChannel) return;
  const note = byId('admin-meta');
  body.replaceChildren(
    ...members.map((member) => {
      const row = element('tr');
      row.dataset.client = member.client;
      const actions = cell('', 'actions');
      actions.append(disconnectButton('Disconnect', { client: member.client }, note));
      const user = element('button', 'link-button', userLabel(member));
      user.type = 'button';
      user.addEventListener('click', () => void lookUp(member.user));
      const who = cell('');
      who.append(user);
      row.append(who, cell(member.client, 'mono'), actions);
      return row;
    }),
  );
}

/** A user's connections, on every node: `connections` with `user`. */
async function lookUp(user: string): Promise<void> {
  shownUser = user;
  byId<HTMLInputElement>('user-input').value = user;
  byId('user-result').hidden = false;
  byId('user-note').textContent = '';
  await refreshUser();
}

function connectionsOf(result: Record<string, unknown>): ConnectionRow[] {
  const connections = isRecord(result['connections']) ? result['connections'] : {};
  return Object.values(connections)
    .filter(isRecord)
    .filter((connection) => typeof connection['client'] === 'string')
    .map((connection) => ({
      client: connection['client'] as string,
      nodeName: typeof connection['node_name'] === 'string' ? connection['node_name'] : '?',
      transport: `${connection['transport'] === 'http' ? 'HTTP fallback' : 'WebSocket'}${connection['http_version'] === 2 ? ' (h2)' : ''}`,
      subscriptions: count(connection['num_subs']),
    }));
}

async function refreshUser(): Promise<void> {
  const user = shownUser;
  if (user === null) return;
  let connections: ConnectionRow[];
  let more = false;
  try {
    const result = await call('connections', { user, limit: MAX_USER_CONNECTIONS });
    connections = connectionsOf(result);
    more = typeof result['next_cursor'] === 'string' && result['next_cursor'] !== '';
  } catch (error) {
    byId('user-summary').textContent = `Could not read the connections: ${(error as Error).message}`;
    return;
  }
  if (user !== shownUser) return;
  const note = byId('user-note');
  const nodes = new Set(connections.map((connection) => connection.nodeName)).size;
  byId('user-summary').textContent =
    connections.length === 0
      ? `${user}: no connection on any node.`
      : `${user}: ${more ? 'more than ' : ''}${plural(connections.length, 'connection')} on ${plural(nodes, 'node')}.`;
  byId('user-connections').replaceChildren(
    ...connections.map((connection) => {
      const row = element('tr');
      row.dataset.client = connection.client;
      const actions = cell('', 'actions');
      actions.append(disconnectButton('Disconnect', { client: connection.client }, note));
      row.append(cell(connection.client, 'mono'), cell(connection.nodeName, 'wide-only'), cell(connection.transport, 'wide-only'), cell(String(connection.subscriptions), 'count'), actions);
      return row;
    }),
  );
  const button = byId<HTMLButtonElement>('disconnect-user');
  const fresh = disconnectButton('Disconnect this user everywhere', { user }, note);
  fresh.id = 'disconnect-user';
  fresh.classList.remove('small');
  button.replaceWith(fresh);
}

function showStatus(text: string, state: 'ok' | 'error'): void {
  const status = byId('admin-status');
  status.textContent = text;
  status.dataset.state = state;
}

/** Reads everything once; a refused key goes back to the key form. */
async function refresh(): Promise<void> {
  const pattern = byId<HTMLInputElement>('channel-filter').value.trim();
  try {
    const [info, channels] = await Promise.all([call('info'), call('channels', pattern === '' ? {} : { pattern })]);
    channelCounts = channelsOf(channels);
    renderNodes(nodesOf(info), channelCounts.length);
    renderChannels(channelCounts, typeof channels['next_cursor'] === 'string' && channels['next_cursor'] !== '');
    await Promise.all([refreshPresence(), refreshUser()]);
    showStatus(`live · updated ${new Date().toLocaleTimeString()}`, 'ok');
    byId('admin-meta').textContent = `${plural(nodesOf(info).length, 'node')} · every ${POLL_INTERVAL / 1000} s through the server API`;
  } catch (error) {
    if (error instanceof ApiFailure && error.status === 401) return signOut('The server refused this key (401 unauthorized).');
    showStatus(`not updated: ${(error as Error).message}`, 'error');
  }
}

function schedule(): void {
  window.clearTimeout(pollTimer);
  pollTimer = window.setTimeout(async () => {
    if (key === '') return;
    if (!document.hidden) await refresh();
    if (key !== '') schedule();
  }, POLL_INTERVAL);
}

/** Checks the key with `info`; opens the page with it, or says why not. */
async function signIn(candidate: string): Promise<void> {
  key = candidate;
  const error = byId('key-error');
  try {
    await call('info');
  } catch (failure) {
    const refused = failure instanceof ApiFailure && failure.status === 401;
    return signOut(refused ? 'The server refused this key (401 unauthorized).' : `The server API did not answer: ${(failure as Error).message}`);
  }
  sessionStorage.setItem(KEY_STORE, key);
  error.hidden = true;
  byId('key-form').hidden = true;
  byId('admin').hidden = false;
  await refresh();
  schedule();
}

function signOut(reason: string | null): void {
  key = '';
  sessionStorage.removeItem(KEY_STORE);
  window.clearTimeout(pollTimer);
  byId('admin').hidden = true;
  byId('key-form').hidden = false;
  byId('admin-meta').textContent = 'not signed in';
  const error = byId('key-error');
  error.hidden = reason === null;
  error.textContent = reason ?? '';
  byId<HTMLInputElement>('key-input').value = '';
  byId<HTMLInputElement>('key-input').focus();
}

byId('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const value = byId<HTMLInputElement>('key-input').value.trim();
  if (value !== '') void signIn(value);
});
byId('sign-out').addEventListener('click', () => signOut(null));
byId('presence-close').addEventListener('click', () => {
  shownChannel = null;
  byId('presence-panel').hidden = true;
});
byId('user-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const user = byId<HTMLInputElement>('user-input').value.trim();
  if (user !== '') void lookUp(user);
});
byId('channel-filter').addEventListener('change', () => void refresh());
if (key !== '') void signIn(key);
