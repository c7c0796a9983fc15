// What every server integration example (examples/integrations/*) must do,
// checked through real sockets against the example run as its own process:
// the app's routes and Switchboard's real-time endpoint (WebSocket) and HTTP
// fallback answer on one port, the app's session cookie becomes the
// real-time identity (cookie → token route → `authenticate`), and SIGTERM
// shuts both down, with clients connected over each transport, within a bound.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { RealtimeClient, type DisconnectedEvent, type FetchLike, type PublicationEvent, type TransportName } from '../../src/realtime/sdk/node.js';

// Starting an example compiles it with tsx: 15 s was once not enough on a loaded machine.
const WAIT = 60_000;
/** The bound on a graceful shutdown with clients connected over both transports. */
export const SHUTDOWN_BOUND = 5_000;

export interface IntegrationOptions {
  /** The example's file, run with tsx. */
  example: string;
  /** The app route that answers `{ hello: user | 'stranger' }`. */
  helloPath?: string;
  /** How long the example may take to listen (a framework that compiles at start needs more). */
  startTimeout?: number;
  /** Extra environment of the example's process. */
  env?: Record<string, string>;
  /** Runs once before the example starts (a build step), within `prepareTimeout` ms. */
  prepare?: () => Promise<void>;
  prepareTimeout?: number;
  /** More tests of the running example, in the same suite (before the shutdown test). */
  more?: (app: () => RunningExample) => void;
}

export interface RunningExample {
  child: ChildProcess;
  origin: string;
  output: () => string;
}

/** Starts the example on a free port; resolves once it printed `listening on http://localhost:<port>`. */
export function startExample(example: string, timeout = WAIT, env: Record<string, string> = {}): Promise<RunningExample> {
  const child = spawn(process.execPath, ['--import', 'tsx', example], {
    env: { ...process.env, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${example} did not listen within ${timeout} ms:\n${output}`));
    }, timeout);
    const onData = (): void => {
      const match = /listening on http:\/\/localhost:(\d+)/.exec(output);
      if (match === null) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      resolve({ child, origin: `http://127.0.0.1:${match[1]}`, output: () => output });
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${example} exited (${code}) before listening:\n${output}`));
    });
  });
}

/** Logs in as `user` on the app; resolves with the session cookie (`sid=…`). */
export async function login(origin: string, user: string): Promise<string> {
  const response = await fetch(`${origin}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user }),
  });
  assert.equal(response.status, 200);
  const cookie = response.headers.get('set-cookie') ?? '';
  const match = /(?:^|[;,]\s*)(sid=[^;]+)/.exec(cookie);
  assert.ok(match !== null, `no sid cookie in ${cookie}`);
  return match[1]!;
}

/**
 * A client of the example's real-time endpoint whose `getToken` asks the
 * app's token route with the session cookie, as a browser page would; over
 * one transport only.
 */
export function realtimeClient(origin: string, cookie: string, transport: TransportName): RealtimeClient {
  const withCookie: FetchLike = (url, init) => fetch(url, { ...init, headers: { ...init.headers, cookie } });
  return new RealtimeClient(`${origin.replace('http', 'ws')}/rt`, {
    transports: [transport],
    fetch: withCookie,
    reconnect: false,
    getToken: async () => {
      const response = await fetch(`${origin}/api/realtime-token`, { method: 'POST', headers: { cookie } });
      assert.equal(response.status, 200, 'the token route accepts the session');
      return ((await response.json()) as { token: string }).token;
    },
  });
}

export async function connected(client: RealtimeClient): Promise<void> {
  const done = new Promise<void>((resolve, reject) => {
    client.once('connected', () => resolve());
    client.once('disconnected', (event) => reject(new Error(`disconnected ${event.code} ${event.reason}`)));
  });
  client.connect();
  await done;
}

export async function until(condition: () => boolean, what: string, timeout = WAIT): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Resolves with the exit code once `child` exited. */
function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** The suite every integration passes (see the file's header). */
export function describeIntegration(name: string, options: IntegrationOptions): void {
  const helloPath = options.helloPath ?? '/api/hello';
  describe(`${name} integration (${options.example})`, () => {
    let app: RunningExample;
    const clients: RealtimeClient[] = [];

    before(
      async () => {
        await options.prepare?.();
        app = await startExample(options.example, options.startTimeout, options.env);
      },
      { timeout: (options.prepareTimeout ?? 0) + (options.startTimeout ?? WAIT) + 5_000 },
    );

    after(async () => {
      for (const client of clients) client.close();
      if (app?.child.exitCode === null) {
        app.child.kill('SIGKILL');
        await exited(app.child);
      }
    });

    it("answers the app's own routes on its port, with its session cookie", async () => {
      const anonymous = await fetch(`${app.origin}${helloPath}`);
      assert.equal(anonymous.status, 200);
      assert.deepEqual(await anonymous.json(), { hello: 'stranger' });
      const cookie = await login(app.origin, 'ada');
      const known = await fetch(`${app.origin}${helloPath}`, { headers: { cookie } });
      assert.deepEqual(await known.json(), { hello: 'ada' });
      const refused = await fetch(`${app.origin}/api/realtime-token`, { method: 'POST' });
      assert.equal(refused.status, 401, 'no token without a session');
    });

    it('serves WebSocket and the HTTP fallback on the same port, each client authenticated from its session', async () => {
      const alice = realtimeClient(app.origin, await login(app.origin, 'alice'), 'websocket');
      const bob = realtimeClient(app.origin, await login(app.origin, 'bob'), 'http');
      clients.push(alice, bob);
      await Promise.all([connected(alice), connected(bob)]);
      assert.equal(alice.transport, 'websocket');
      assert.equal(bob.transport, 'http');
      assert.equal(await alice.call('whoami'), 'alice');
      assert.equal(await bob.call('whoami'), 'bob');

      const channel = `chat:${name}`;
      const seenByAlice: Array<PublicationEvent<unknown>> = [];
      const seenByBob: Array<PublicationEvent<unknown>> = [];
      const aliceRoom = alice.subscribe(channel).on('publication', (publication) => seenByAlice.push(publication));
      const bobRoom = bob.subscribe(channel).on('publication', (publication) => seenByBob.push(publication));
      await Promise.all([aliceRoom.ready(), bobRoom.ready()]);
      await aliceRoom.publish({ text: 'over WebSocket' });
      await bobRoom.publish({ text: 'over HTTP' });
      await until(() => seenByAlice.length === 2 && seenByBob.length === 2, 'both publications on both clients');
      for (const seen of [seenByAlice, seenByBob]) {
        assert.deepEqual(
          seen.map(({ data, info }) => [data, info?.user]),
          [
            [{ text: 'over WebSocket' }, 'alice'],
            [{ text: 'over HTTP' }, 'bob'],
          ],
        );
      }
      const members = await alice.presence(channel);
      assert.deepEqual(members.map((member) => member.user).sort(), ['alice', 'bob']);
    });

    it('refuses a token the app did not issue (4501, no reconnect)', async () => {
      const stranger = new RealtimeClient(`${app.origin.replace('http', 'ws')}/rt`, { token: 'forged', reconnect: false });
      clients.push(stranger);
      const event = await new Promise<DisconnectedEvent>((resolve) => {
        stranger.once('disconnected', resolve);
        stranger.connect();
      });
      assert.equal(event.code, 4501);
      assert.equal(event.reconnect, false);
    });

    options.more?.(() => app);

    it(`shuts down on SIGTERM within ${SHUTDOWN_BOUND} ms with clients on both transports and an idle keep-alive connection`, async () => {
      const carol = realtimeClient(app.origin, await login(app.origin, 'carol'), 'websocket');
      const dave = realtimeClient(app.origin, await login(app.origin, 'dave'), 'http');
      clients.push(carol, dave);
      await Promise.all([connected(carol), connected(dave)]);
      const ended: Array<[string, number]> = [];
      carol.on('disconnected', ({ code }) => ended.push(['websocket', code]));
      dave.on('disconnected', ({ code }) => ended.push(['http', code]));
      // fetch's keep-alive connection to the app stays open, idle (its response read to the end).
      const hello = await fetch(`${app.origin}${helloPath}`);
      assert.equal(hello.status, 200);
      await hello.text();

      const started = Date.now();
      app.child.kill('SIGTERM');
      const code = await Promise.race([exited(app.child), new Promise<'running'>((resolve) => setTimeout(resolve, SHUTDOWN_BOUND, 'running'))]);
      assert.notEqual(code, 'running', `still running ${SHUTDOWN_BOUND} ms after SIGTERM:\n${app.output()}`);
      assert.equal(code, 0, `exit code ${code}:\n${app.output()}`);
      console.log(`# ${name}: exited ${Date.now() - started} ms after SIGTERM`);
      await until(() => ended.length === 2, 'both clients told');
      assert.deepEqual(ended.sort(), [
        ['http', 4006],
        ['websocket', 4006],
      ]);
      await assert.rejects(fetch(`${app.origin}${helloPath}`), 'the port is closed');
    });
  });
}
