/**
 * What every demo page's script shares (served as /apps/common.js): loading
 * the SDK bundle, the nickname, the client and its connection badge, and
 * small DOM helpers.
 */
import type * as Sdk from '../../../realtime/sdk/index.js';
import type { DemoApi, DemoConnectData, DemoUserInfo, GuestHello } from './api.js';
import { userInfoOf, userTag } from './guards.js';

/** The SDK bundle's exports. */
export type SdkModule = typeof Sdk;
/** A client of the demo API. */
export type DemoClient = Sdk.RealtimeClient<DemoApi>;

const SDK_URL = '/switchboard-sdk.js';
const NAME_KEY = 'switchboard-demo-name';
const ID_KEY = 'switchboard-demo-id';

/** Loads the browser SDK (one ES module served by the same server). */
export async function loadSdk(): Promise<SdkModule> {
  const url: string = SDK_URL;
  return (await import(url)) as SdkModule;
}

/** The element with this id; throws when the page lacks it. */
export function byId<E extends HTMLElement = HTMLElement>(id: string): E {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`#${id} is missing`);
  return element as E;
}

/** Creates an element with a class and text. */
export function element<K extends keyof HTMLElementTagNameMap>(tag: K, className = '', text = ''): HTMLElementTagNameMap[K] {
  const created = document.createElement(tag);
  if (className !== '') created.className = className;
  if (text !== '') created.textContent = text;
  return created;
}

/**
 * A display name followed by the tag of the user id (`Ada #k3f9`): two
 * users with the same (or a look-alike) name still look different. Text
 * only, never markup.
 */
export function nameplate(user: string, info: DemoUserInfo, className = 'name'): HTMLSpanElement {
  const plate = element('span', className, info.name);
  plate.append(element('span', 'tag', userTag(user)));
  plate.dataset.user = user;
  return plate;
}

/** "Ada #k3f9": a user's name and tag as plain text (typing line, join/leave lines, titles). */
export function nameWithTag(member: { user: string; info?: unknown }): string {
  return `${userInfoOf(member).name} ${userTag(member.user)}`;
}

/** The user id this page connected as, from the latest connect result (undefined before). */
let ownUser: string | undefined;

/** Whether `user` is this page's own user, by the user id of the connect result: the only thing marked "(you)". */
export function isOwnUser(user: string): boolean {
  return ownUser !== undefined && user === ownUser;
}

/** A round avatar with the first letter of `name` on `color`. */
export function avatar(name: string, color: string, small = false): HTMLSpanElement {
  const badge = element('span', small ? 'avatar small' : 'avatar', [...name][0] ?? '?');
  badge.style.setProperty('--c', color);
  badge.setAttribute('aria-hidden', 'true');
  return badge;
}

/** A search parameter of the page's URL that is a valid room or board name, else `fallback`. */
export function nameFromUrl(param: string, pattern: RegExp, fallback: string): string {
  const value = new URLSearchParams(location.search).get(param);
  return value !== null && pattern.test(value) ? value : fallback;
}

/** Sets (or removes) a search parameter of the address bar without reloading. */
export function setUrlParam(param: string, value: string | null): void {
  const url = new URL(location.href);
  if (value === null) url.searchParams.delete(param);
  else url.searchParams.set(param, value);
  history.replaceState(null, '', url);
}

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (byte) => byte.toString(36).padStart(2, '0')).join('').slice(0, 16);
}

/** Opens the nickname dialog; resolves with what was entered. */
export function askNickname(current = ''): Promise<string> {
  const dialog = byId<HTMLDialogElement>('nickname-dialog');
  const input = byId<HTMLInputElement>('nickname-input');
  input.value = current;
  return new Promise((resolve) => {
    const submitted = (event: Event): void => {
      event.preventDefault();
      const name = input.value.trim();
      if (name === '') return;
      byId('nickname-form').removeEventListener('submit', submitted);
      dialog.close();
      resolve(name);
    };
    byId('nickname-form').addEventListener('submit', submitted);
    dialog.addEventListener('cancel', (event) => event.preventDefault());
    dialog.showModal();
    input.focus();
  });
}

/**
 * Who this browser is: a random id kept in localStorage, and a nickname —
 * from `?name=`, from an earlier visit, or asked for now (unless `ask` is
 * false: a page with a token is named by it).
 */
export async function guestIdentity(ask = true): Promise<GuestHello> {
  let id = localStorage.getItem(ID_KEY);
  if (id === null || !GUEST_TOKEN.test(id)) localStorage.setItem(ID_KEY, (id = randomId()));
  const fromUrl = new URLSearchParams(location.search).get('name');
  let name = fromUrl?.trim() || localStorage.getItem(NAME_KEY) || '';
  if (name === '' && !ask) return { id, name: 'guest' };
  if (name === '') name = await askNickname();
  localStorage.setItem(NAME_KEY, name);
  return { id, name };
}

function realtimeUrl(): string {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/rt`;
}

/** The badge text for a client state. */
function connectionText(state: Sdk.ClientState, attempt: number): string {
  if (state === 'connected') return 'live';
  if (state === 'connecting') return attempt === 0 ? 'connecting…' : `reconnecting… (attempt ${attempt})`;
  return 'offline';
}

/** Keeps the top bar's badge (and `body[data-connection]`) in step with the client's state. */
function showConnection(client: DemoClient): void {
  const badge = byId('connection');
  const label = badge.querySelector('span')!;
  let attempt = 0;
  const render = (): void => {
    badge.dataset.state = client.state;
    document.body.dataset.connection = client.state;
    label.textContent = connectionText(client.state, attempt);
  };
  client.on('connecting', (event) => {
    attempt = event.attempt;
    render();
  });
  client.on('state', render);
  client.on('connected', (result) => {
    const data = connectData(result);
    badge.title = data === undefined ? 'Connected' : `Connected to worker ${data.worker} as ${result.user}`;
    render();
  });
  client.on('disconnected', (event) => {
    if (!event.reconnect) badge.title = `Disconnected: ${event.code} ${event.reason}`;
    // Every disconnect this page saw, for whoever inspects it (and the tests).
    const seen = document.body.dataset.disconnects;
    document.body.dataset.disconnects = `${seen === undefined ? '' : `${seen}; `}${event.code} ${event.reason}`.slice(-500);
    render();
  });
  render();
}

/** Shows the user in the top bar; clicking it changes the nickname (the page reloads with it). */
function showUser(client: DemoClient, hello: GuestHello): void {
  const chip = byId<HTMLButtonElement>('me');
  client.on('connected', (result) => {
    const info = userInfoOf({ user: result.user, info: connectData(result) ?? { name: hello.name } });
    chip.replaceChildren(avatar(info.name, info.color, true), nameplate(result.user, info, ''));
    chip.title = `You are ${info.name} ${userTag(result.user)} (${result.user}). Click to change your nickname.`;
    chip.hidden = false;
  });
  chip.addEventListener('click', async () => {
    const name = await askNickname(localStorage.getItem(NAME_KEY) ?? '');
    localStorage.setItem(NAME_KEY, name);
    setUrlParam('name', null);
    location.reload();
  });
}

/**
 * A guest's identity is the server's: its connect result holds a signed
 * token (`data.id`) that this browser keeps and sends back as its `id`, on
 * the next reconnect (the SDK sends `hello` again) and the next visit, to
 * stay the same user. An id the server did not sign only gets a new guest.
 */
function keepGuestToken(hello: GuestHello, result: Sdk.ConnectResult): void {
  const data = result.data;
  if (typeof data !== 'object' || data === null) return;
  const id = (data as { id?: unknown }).id;
  if (typeof id !== 'string' || !GUEST_TOKEN.test(id)) return;
  hello.id = id;
  localStorage.setItem(ID_KEY, id);
}

/** The shape of a guest token (and of the random id sent before the first one). */
const GUEST_TOKEN = /^[A-Za-z0-9_-]{6,64}$/;

/**
 * Connects to /rt as this browser's guest (or with `?token=` when the
 * server wants a JWT), in `protocol` (JSON unless a page wants MessagePack),
 * with the connection badge and user chip wired up.
 * `connected` resolves with the first connect result.
 */
export async function connectDemo(askName = true, protocol: Sdk.ProtocolName = 'json'): Promise<{ sdk: SdkModule; client: DemoClient; hello: GuestHello; connected: Promise<Sdk.ConnectResult> }> {
  const token = new URLSearchParams(location.search).get('token');
  const [sdk, hello] = await Promise.all([loadSdk(), guestIdentity(token === null && askName)]);
  const options: Sdk.RealtimeClientOptions = { data: hello, protocol };
  if (token !== null) options.token = token;
  const client: DemoClient = new sdk.RealtimeClient<DemoApi>(realtimeUrl(), options);
  client.on('connected', (result) => {
    ownUser = typeof result.user === 'string' ? result.user : undefined;
    keepGuestToken(hello, result);
  });
  const connected = new Promise<Sdk.ConnectResult>((resolve) => client.once('connected', resolve));
  showConnection(client);
  showUser(client, hello);
  client.connect();
  return { sdk, client, hello, connected };
}

/** The connect data of the current connection (after 'connected'), when it is well-formed. */
export function connectData(result: Sdk.ConnectResult): DemoConnectData | undefined {
  const data = result.data as Partial<DemoConnectData> | undefined;
  if (typeof data !== 'object' || data === null || typeof data.name !== 'string' || typeof data.color !== 'string') return undefined;
  return { name: data.name, color: data.color, worker: typeof data.worker === 'number' ? data.worker : 1 };
}

/** Failures that waiting cannot fix: the server refused the request itself. */
const FINAL_ERRORS = new Set(['unavailable', 'forbidden', 'not_found', 'invalid_data', 'bad_request', 'unauthorized', 'closed']);

/** Server-side failures (not a missing connection) a page retries at most this often before it goes on without. */
const MAX_FAILED_ATTEMPTS = 10;

/**
 * Runs a request that a page needs before it can show anything (history, a
 * snapshot): while it fails for a passing reason (not connected yet,
 * timeout, broker down), waits for the next connection or 2 s, and tries
 * again. Resolves null on a failure that waiting cannot fix, after
 * MAX_FAILED_ATTEMPTS failures while connected (the server keeps failing
 * it), or once `stillWanted` says the page moved on.
 */
export async function whenPossible<T>(client: DemoClient, request: () => Promise<T>, stillWanted: () => boolean = () => true): Promise<T | null> {
  let failed = 0;
  for (;;) {
    try {
      return await request();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (client.state === 'connected') failed++;
      if ((typeof code === 'string' && FINAL_ERRORS.has(code)) || failed >= MAX_FAILED_ATTEMPTS || !stillWanted()) return null;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          client.off('connected', done);
          resolve();
        };
        const timer = setTimeout(done, 2000);
        client.on('connected', done);
      });
    }
  }
}

/** `count` of `unit`, pluralised. */
export function plural(count: number, unit: string): string {
  return `${count} ${unit}${count === 1 ? '' : 's'}`;
}
