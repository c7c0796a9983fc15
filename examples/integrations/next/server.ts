// A Next.js custom server with Switchboard on one port: Next's pages and route handlers, the real-time endpoint
// /rt (WebSocket) and its HTTP fallback /rt/http, the session (a cookie Next's route handlers set) as the
// real-time credential, and a graceful shutdown. `next build` first, then run it with NODE_ENV=production:
// cd examples/integrations/next && npx next build && NODE_ENV=production npx tsx server.ts   (PORT=0: a free port)
import { createServer } from 'node:http';
import next from 'next';
import { createRealtimeServer } from 'switchboard/realtime';
import { SECRET } from './session.js';

const app = next({ dev: process.env.NODE_ENV !== 'production', dir: import.meta.dirname });
const handle = app.getRequestHandler();
await app.prepare();

const rt = createRealtimeServer({
  noServer: true, // routed by hand below, so that the fallback's requests never reach Next, even during shutdown
  path: '/rt',
  auth: { jwt: { secret: SECRET, audience: 'realtime' } }, // the token of app/api/realtime-token; the user is its `sub`
  namespaces: { chat: { history: { size: 100 }, presence: true } },
});
const server = createServer((req, res) => {
  if (!rt.handleRequest(req, res)) void handle(req, res); // /rt/http… is Switchboard's, the rest Next's
});
server.on('upgrade', (req, socket, head) => {
  // Keep /rt outside Next's routes: Next adds its own 'upgrade' listener (on its first request), which ends the
  // upgrades of paths it routes and takes its development server's HMR ones.
  if (new URL(req.url ?? '/', 'http://localhost').pathname === '/rt') rt.handleUpgrade(req, socket, head);
});
rt.method('whoami', (_params, session) => session.user);

server.listen(Number(process.env.PORT ?? 3000), () => {
  console.log(`listening on http://localhost:${(server.address() as { port: number }).port}`);
});

process.once('SIGTERM', async () => {
  await rt.close(); // real-time clients get 4006 (come back later) and the fallback's streams end
  server.close(); // then the HTTP server: no new connections, idle keep-alive ones closed
  await app.close();
});
