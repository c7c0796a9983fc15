// Hono on Node (@hono/node-server) and Switchboard on one port: the app's routes, the real-time endpoint /rt
// (WebSocket) and its HTTP fallback /rt/http, the app's session cookie as the real-time credential, and a graceful
// shutdown. Run: npx tsx examples/integrations/hono.ts   (PORT=0 picks a free port)
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { createRealtimeServer } from 'switchboard/realtime';

const sessions = new Map<string, string>(); // session cookie → user (your session store)
const tokens = new Map<string, string>(); // real-time token → user, for one connect

const app = new Hono();
app.post('/login', async (c) => {
  const { user } = await c.req.json<{ user: string }>();
  const sid = randomUUID();
  sessions.set(sid, String(user));
  setCookie(c, 'sid', sid, { httpOnly: true, sameSite: 'Lax', path: '/' });
  return c.json({ user });
});
app.get('/api/hello', (c) => c.json({ hello: sessions.get(getCookie(c, 'sid') ?? '') ?? 'stranger' }));
// The session cookie buys a short-lived token; the client sends it in `connect` (getToken), over either transport.
app.post('/api/realtime-token', (c) => {
  const user = sessions.get(getCookie(c, 'sid') ?? '');
  if (user === undefined) return c.body(null, 401);
  const token = randomUUID();
  tokens.set(token, user);
  setTimeout(() => tokens.delete(token), 30_000).unref();
  return c.json({ token });
});

const server = serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000) }, ({ port }) => {
  console.log(`listening on http://localhost:${port}`);
}) as Server;
const rt = createRealtimeServer({
  server, // attached: takes the upgrades to /rt and the requests under /rt/http, Hono gets the rest
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

process.once('SIGTERM', async () => {
  await rt.close(); // real-time clients get 4006 (come back later) and the fallback's streams end
  server.close(); // then the HTTP server: no new connections, idle keep-alive ones closed
});
