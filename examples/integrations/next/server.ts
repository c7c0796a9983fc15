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

const server = createServer((req, res) => void handle(req, res));
const rt = createRealtimeServer({
  server, // attached: takes the upgrades to /rt and the requests under /rt/http, Next gets the rest
  path: '/rt', // keep it outside Next's routes: Next ends the upgrades of paths it routes
  auth: { jwt: { secret: SECRET, audience: 'realtime' } }, // the token of app/api/realtime-token; the user is its `sub`
  namespaces: { chat: { history: { size: 100 }, presence: true } },
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
