// switchboard/react in Chromium (development React, StrictMode): the page of
// fixtures/page.tsx, bundled with esbuild, against a real-time server that
// counts what each user subscribes. Checks: one server-side subscribe per
// channel whatever the number of components and StrictMode's double effects,
// one unsubscribe when the last component of a channel goes, one connection
// per provider, closed on unmount; publish and receive through useChannel and
// useHistory; presence across two clients; a server restart seen by
// useConnectionState as connected → connecting → connected, with one
// resubscribe. Missing Chromium skips, or fails with SWITCHBOARD_REQUIRE_PEERS=1.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { createRealtimeServer, type RealtimeServer } from '../../src/realtime/server/index.js';
import { RealtimeClient, type PublicationEvent } from '../../src/realtime/sdk/node.js';
import { chromiumStatus, launchChromium, requirePeer } from '../interop/peers.js';
import type { PageProps } from './fixtures/page.js';

const WAIT = 10_000;

/** `window.harness` of fixtures/page.tsx. */
interface HarnessWindow {
  harness: {
    render(root: string, props: PageProps): void;
    unmount(root: string): void;
    givenState(root: string): string | undefined;
    log: { states: Record<string, string[]>; publications: Array<{ root: string; index: number; data: unknown }> };
  };
}
const status = chromiumStatus();
const peer = requirePeer('Chromium', status.available, status.reason);

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + WAIT;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** What the real-time server saw, as `event user channel` lines. */
const seen: string[] = [];
const count = (line: string): number => seen.filter((entry) => entry === line).length;

function startRealtime(port: number): RealtimeServer {
  const rt = createRealtimeServer({
    port,
    host: '127.0.0.1',
    path: '/rt',
    auth: { authenticate: ({ token }) => (token ? { user: token } : null) },
    namespaces: { chat: { presence: true, history: { size: 100 }, publish: 'clients' } },
  });
  rt.on('connect', (session) => seen.push(`connect ${session.user}`));
  rt.on('disconnect', (session) => seen.push(`disconnect ${session.user}`));
  rt.on('subscribe', (session, channel) => seen.push(`subscribe ${session.user} ${channel}`));
  rt.on('unsubscribe', (session, channel) => seen.push(`unsubscribe ${session.user} ${channel}`));
  return rt;
}

describe('switchboard/react in Chromium', () => {
  let browser: Browser | undefined;
  let http: Server | undefined;
  let rt: RealtimeServer | undefined;
  let page: Page;
  let url = '';
  const nodeClients: RealtimeClient[] = [];

  const props = (user: string, more: Partial<PageProps>): PageProps => ({ url, user, rooms: [], presence: [], history: [], ...more });
  const render = (root: string, value: PageProps) => page.evaluate(([r, p]) => (window as unknown as HarnessWindow).harness.render(r, p), [root, value] as const);
  const unmount = (root: string) => page.evaluate((r) => (window as unknown as HarnessWindow).harness.unmount(r), root);
  const roomStates = (root: string) => page.$$eval(`#${root} .room`, (rooms) => rooms.map((room) => (room as HTMLElement).dataset.state));
  const texts = (selector: string) => page.$$eval(selector, (items) => items.map((item) => item.textContent ?? ''));
  const states = (root: string) => page.evaluate((r) => ((window as unknown as HarnessWindow).harness.log.states[r] ?? []) as string[], root);

  before(async () => {
    if (peer.skip) return;
    const bundle = await build({
      entryPoints: [fileURLToPath(new URL('fixtures/page.tsx', import.meta.url))],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      define: { 'process.env.NODE_ENV': '"development"' },
      logLevel: 'warning',
    });
    const script = bundle.outputFiles[0]!.text;
    http = createServer((request, response) => {
      if (request.url === '/page.js') response.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
      else response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><meta charset="utf-8"><script type="module" src="/page.js"></script>');
    });
    await new Promise<void>((resolve) => http!.listen(0, '127.0.0.1', resolve));
    rt = startRealtime(0);
    [browser] = await Promise.all([launchChromium(), rt.ready()]);
    url = `ws://127.0.0.1:${rt.port}/rt`;
    page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${(http.address() as AddressInfo).port}/`);
    await page.waitForFunction('window.harness !== undefined', undefined, { timeout: WAIT });
  });

  after(async () => {
    for (const client of nodeClients) client.close();
    await browser?.close();
    await new Promise((resolve) => (http ? http.close(resolve) : resolve(undefined)));
    await rt?.close();
  });

  it('subscribes once per channel under StrictMode, whatever the number of components; unsubscribes when the last goes; one connection, closed on unmount', peer, async () => {
    await render('a', props('ada', { rooms: ['chat:one', 'chat:one', 'chat:two'], presence: ['chat:one'], history: ['chat:one'] }));
    await until(async () => (await roomStates('a')).every((state) => state === 'subscribed'), 'the rooms subscribed');
    await sleep(300); // time for any second subscribe to arrive
    assert.equal(count('connect ada'), 1);
    assert.equal(count('subscribe ada chat:one'), 1);
    assert.equal(count('subscribe ada chat:two'), 1);
    assert.equal(count('unsubscribe ada chat:one') + count('unsubscribe ada chat:two'), 0);

    // Mounted while connected: StrictMode's second effect run must not unsubscribe and subscribe again.
    await render('a', props('ada', { rooms: ['chat:one', 'chat:one', 'chat:two', 'chat:three'], presence: ['chat:one'], history: ['chat:one'] }));
    await until(async () => (await roomStates('a')).every((state) => state === 'subscribed'), 'chat:three subscribed');
    await sleep(300);
    assert.equal(count('subscribe ada chat:three'), 1);
    assert.equal(count('unsubscribe ada chat:three'), 0);

    await render('a', props('ada', { rooms: ['chat:one'] })); // one Room of chat:one, chat:two, the presence list and the history go
    await until(() => count('unsubscribe ada chat:two') === 1 && count('unsubscribe ada chat:three') === 1, 'chat:two and chat:three unsubscribed');
    await sleep(300);
    assert.equal(count('unsubscribe ada chat:one'), 0, 'chat:one is still used by one Room');
    assert.equal(count('subscribe ada chat:one'), 1);

    await unmount('a');
    await until(() => count('disconnect ada') === 1, 'the provider closed its client');
    assert.equal(count('connect ada'), 1);
    assert.equal(count('subscribe ada chat:one'), 1);
    assert.deepEqual(await states('a'), ['disconnected', 'connecting', 'connected']);
  });

  it('connects a given client, keeps a channel nobody uses for `linger` ms, and leaves the client open on unmount', peer, async () => {
    await render('g', props('gil', { given: true, linger: 400, rooms: ['chat:kept', 'chat:gone'] }));
    await until(async () => (await roomStates('g')).every((state) => state === 'subscribed'), 'subscribed');
    assert.equal(await page.evaluate((r) => (window as unknown as HarnessWindow).harness.givenState(r), 'g'), 'connected');
    await render('g', props('gil', { given: true, linger: 300, rooms: ['chat:kept', 'chat:gone'] })); // another linger: same leases
    await sleep(700);
    assert.equal(count('unsubscribe gil chat:kept') + count('unsubscribe gil chat:gone'), 0);
    await render('g', props('gil', { given: true, linger: 400, rooms: ['chat:kept', 'chat:gone'] }));
    const removed = Date.now();
    await render('g', props('gil', { given: true, linger: 400, rooms: ['chat:kept'] }));
    await until(() => count('unsubscribe gil chat:gone') === 1, 'chat:gone unsubscribed');
    const lingered = Date.now() - removed;
    assert.ok(lingered >= 400, `unsubscribed after ${lingered} ms`);
    await unmount('g');
    await sleep(300);
    assert.equal(count('disconnect gil'), 0, 'a given client is not closed');
    assert.equal(await page.evaluate((r) => (window as unknown as HarnessWindow).harness.givenState(r), 'g'), 'connected');
    await until(() => count('unsubscribe gil chat:kept') === 1, 'its last channel unsubscribed after the linger');
    assert.equal(count('subscribe gil chat:kept') + count('subscribe gil chat:gone'), 2);
  });

  it('publishes and receives through useChannel; useHistory shows the latest kept publications, then live ones', peer, async () => {
    const node = new RealtimeClient(url, { token: 'node' });
    nodeClients.push(node);
    const received: Array<PublicationEvent<unknown>> = [];
    node.subscribe('chat:talk').on('publication', (publication) => received.push(publication));
    node.connect();
    await node.getSubscription('chat:talk')!.ready();
    for (const text of ['h1', 'h2', 'h3', 'h4']) await node.publish('chat:talk', { text });

    await render('b', props('bea', { rooms: ['chat:talk'], history: ['chat:talk'] }));
    await until(async () => (await texts('#b .history li')).join() === 'h2,h3,h4', 'the kept publications');
    await until(async () => (await roomStates('b'))[0] === 'subscribed', 'the room subscribed');
    await page.click('#b .room');
    await until(() => received.some(({ data, info }) => (data as { text: string }).text === 'from b' && info?.user === 'bea'), 'the page publication at the Node client');
    await node.publish('chat:talk', { text: 'live' });
    await until(async () => (await texts('#b .history li')).join() === 'h4,from b,live', 'the live publications in the history window');
    const log = await page.evaluate(() => (window as unknown as HarnessWindow).harness.log.publications as Array<{ root: string; data: unknown }>);
    assert.deepEqual(
      log.filter(({ root }) => root === 'b').map(({ data }) => (data as { text: string }).text),
      ['from b', 'live'],
      'each publication once in onPublication',
    );
    await unmount('b');
  });

  it('shows presence changes across two clients', peer, async () => {
    await render('p1', props('pat', { presence: ['chat:meet'] }));
    await until(async () => (await texts('#p1 .members li')).join() === 'pat', 'pat alone');
    await render('p2', props('quinn', { presence: ['chat:meet'] }));
    await until(async () => (await texts('#p1 .members li')).sort().join() === 'pat,quinn', 'quinn joins, seen by pat');
    await until(async () => (await texts('#p2 .members li')).sort().join() === 'pat,quinn', 'quinn sees pat');
    await unmount('p2');
    await until(async () => (await texts('#p1 .members li')).join() === 'pat', 'quinn leaves, seen by pat');
    await unmount('p1');
  });

  it('goes connected → connecting → connected across a server restart, and resubscribes once', peer, async () => {
    await render('r', props('ray', { rooms: ['chat:re', 'chat:re'] }));
    await until(async () => (await roomStates('r')).every((state) => state === 'subscribed'), 'subscribed');
    const port = rt!.port;
    await rt!.close();
    seen.length = 0;
    rt = startRealtime(port);
    await rt.ready();
    await until(async () => (await states('r')).at(-1) === 'connected' && count('subscribe ray chat:re') === 1, 'reconnected and resubscribed');
    assert.deepEqual(await states('r'), ['disconnected', 'connecting', 'connected', 'connecting', 'connected']);
    await rt.publish('chat:re', { text: 'after the restart' });
    await until(
      async () => (await page.evaluate(() => (window as unknown as HarnessWindow).harness.log.publications as Array<{ root: string }>)).filter(({ root }) => root === 'r').length === 2,
      'the publication in both Rooms',
    );
    await sleep(300);
    assert.equal(count('subscribe ray chat:re'), 1);
    assert.equal(count('connect ray'), 1);
    await unmount('r');
  });
});
