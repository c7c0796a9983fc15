// Fastify 5 and Switchboard on one port: the app's routes, the real-time endpoint /rt (WebSocket) and its HTTP
// fallback /rt/http, the app's session cookie as the real-time credential, and a graceful shutdown.
// Run: npx tsx examples/integrations/fastify.ts   (PORT=0 picks a free port)
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import { createRealtimeServer } from 'switchboard/realtime';

const sessions = new Map<string, string>(); // session cookie → user (your session store)
const tokens = new Map<string, string>(); // real-time token → user, for one connect
const userOf = (cookie = '') => sessions.get(/(?:^|;\s*)sid=([^;]*)/.exec(cookie)?.[1] ?? '');

const app = Fastify();
app.post<{ Body: { user: string } }>('/login', async (request, reply) => {
  const sid = randomUUID();
  sessions.set(sid, String(request.body.user));
  reply.header('set-cookie', `sid=${sid}; Path=/; HttpOnly; SameSite=Lax`);
  return { user: request.body.user };
});
app.get('/api/hello', async (request) => ({ hello: userOf(request.headers.cookie) ?? 'stranger' }));
// The session cookie buys a short-lived token; the client sends it in `connect` (getToken), over either transport.
app.post('/api/realtime-token', async (request, reply) => {
  const user = userOf(request.headers.cookie);
  if (user === undefined) return reply.code(401).send();
  const token = randomUUID();
  tokens.set(token, user);
  setTimeout(() => tokens.delete(token), 30_000).unref();
  return { token };
});

const rt = createRealtimeServer({
  server: app.server, // attached: takes the upgrades to /rt and the requests under /rt/http, Fastify gets the rest
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
// Before Fastify stops its server: real-time clients get 4006 (come back later) and the fallback's streams end.
app.addHook('preClose', () => rt.close());

const address = await app.listen({ port: Number(process.env.PORT ?? 3000) });
console.log(`listening on http://localhost:${new URL(address).port}`);

process.once('SIGTERM', () => void app.close());
