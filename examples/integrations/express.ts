// Express 5 and Switchboard on one port: the app's routes, the real-time endpoint /rt (WebSocket) and its HTTP
// fallback /rt/http, the app's session cookie as the real-time credential, and a graceful shutdown.
// Run: npx tsx examples/integrations/express.ts   (PORT=0 picks a free port)
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import express from 'express';
import { createRealtimeServer } from 'switchboard/realtime';

const sessions = new Map<string, string>(); // session cookie → user (your session store)
const tokens = new Map<string, string>(); // real-time token → user, for one connect
const userOf = (cookie = '') => sessions.get(/(?:^|;\s*)sid=([^;]*)/.exec(cookie)?.[1] ?? '');

const app = express();
app.post('/login', express.json(), (req, res) => {
  const sid = randomUUID();
  sessions.set(sid, String(req.body.user));
  res.cookie('sid', sid, { httpOnly: true, sameSite: 'lax' }).json({ user: req.body.user });
});
app.get('/api/hello', (req, res) => {
  res.json({ hello: userOf(req.headers.cookie) ?? 'stranger' });
});
// The session cookie buys a short-lived token; the client sends it in `connect` (getToken), over either transport.
app.post('/api/realtime-token', (req, res) => {
  const user = userOf(req.headers.cookie);
  if (user === undefined) return void res.sendStatus(401);
  const token = randomUUID();
  tokens.set(token, user);
  setTimeout(() => tokens.delete(token), 30_000).unref();
  res.json({ token });
});

const server = createServer(app);
const rt = createRealtimeServer({
  server, // attached: takes the upgrades to /rt and the requests under /rt/http, Express gets the rest
  path: '/rt',
  auth: {
    authenticate: ({ token = '' }) => {
      const user = tokens.get(token);
      tokens.delete(token);
      return user === undefined ? null : { user };
    },
  },
  namespaces: { chat: { history: { size: 100 }, presence: true } },
});
rt.method('whoami', (_params, session) => session.user);

server.listen(Number(process.env.PORT ?? 3000), () => {
  console.log(`listening on http://localhost:${(server.address() as { port: number }).port}`);
});

process.once('SIGTERM', async () => {
  await rt.close(); // real-time clients get 4006 (come back later) and the fallback's streams end
  server.close(); // then the HTTP server: no new connections, idle keep-alive ones closed
});
