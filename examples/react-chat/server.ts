// The React chat's server: the page, its bundle (esbuild, at start) and the real-time server on one port.
// Run: npx tsx examples/react-chat/server.ts   (PORT=0 picks a free port), then open the printed address.
import { createServer } from 'node:http';
import { build } from 'esbuild';
import { createRealtimeServer, RpcError } from 'switchboard/realtime';
import type { ChatApi } from './api.js';

const bundle = await build({
  entryPoints: [new URL('app.tsx', import.meta.url).pathname],
  bundle: true,
  write: false,
  minify: true,
  format: 'esm',
  platform: 'browser',
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
});
const script = bundle.outputFiles[0]!.text;
const page = `<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Switchboard chat</title><style>${STYLE()}</style><div id="app"></div><script type="module" src="/app.js"></script></html>`;

const server = createServer((request, response) => {
  if (request.url === '/app.js') response.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(script);
  else response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
});
const rooms = new Set(['lobby', 'random']);
const rt = createRealtimeServer<ChatApi>({
  server,
  path: '/rt',
  auth: { authenticate: ({ token }) => (token && /^[\w .-]{1,32}$/.test(token) ? { user: token } : null) }, // demo: the name is the token
  namespaces: { chat: { history: { size: 100 }, presence: true } },
  authorize: ({ channel }) => rooms.has(channel.slice('chat:'.length)),
});
rt.method('rooms.list', () => [...rooms]);
rt.method('rooms.create', ({ name }) => {
  const room = name.trim().toLowerCase().replace(/[^a-z0-9-]+/g, '-');
  if (room === '' || rooms.size >= 50) throw new RpcError('invalid_room', 'a room needs a name (and there are at most 50)');
  rooms.add(room);
  return { room };
});

server.listen(Number(process.env.PORT ?? 3000), () => {
  console.log(`listening on http://localhost:${(server.address() as { port: number }).port}`);
});
process.once('SIGTERM', async () => {
  await rt.close();
  server.close();
});

function STYLE(): string {
  return `
*{box-sizing:border-box}body{margin:0;font:15px/1.4 system-ui,sans-serif;background:#f4f5f7;color:#1d2330}
.chat{display:grid;grid-template:"head head head" 56px "rooms main members" 1fr/220px 1fr 220px;height:100vh}
header{grid-area:head;display:flex;align-items:center;gap:16px;padding:0 20px;background:#1d2330;color:#fff}
header h1{font-size:18px;margin:0;flex:1}.user{font-weight:600}
.state{font-size:12px;padding:2px 10px;border-radius:10px;background:#c0392b}.state.connected{background:#27ae60}.state.connecting{background:#e67e22}
nav,aside{padding:16px;background:#fff;border-right:1px solid #e1e4e8;overflow:auto}aside{border-right:0;border-left:1px solid #e1e4e8}
h2{font-size:12px;text-transform:uppercase;letter-spacing:.06em;color:#6a7180;margin:0 0 8px}
ul{list-style:none;margin:0 0 12px;padding:0}nav button{width:100%;text-align:left;border:0;background:none;padding:6px 8px;border-radius:6px;font:inherit;cursor:pointer}
nav button.current{background:#e8eefc;color:#2251c9;font-weight:600}aside li{padding:4px 0}.dot{color:#27ae60}
main{grid-area:main;display:flex;flex-direction:column;min-height:0}
.messages{flex:1;overflow:auto;margin:0;padding:16px 20px;list-style:none}.messages li{padding:6px 0;border-bottom:1px solid #eceef1}.muted{color:#6a7180}
.composer{display:flex;gap:8px;padding:12px 20px;background:#fff;border-top:1px solid #e1e4e8}
input{flex:1;font:inherit;padding:8px 10px;border:1px solid #cfd4da;border-radius:6px;width:100%}
.composer button{font:inherit;padding:8px 16px;border:0;border-radius:6px;background:#2251c9;color:#fff;cursor:pointer}button:disabled{opacity:.5}
.login{max-width:320px;margin:20vh auto;display:grid;gap:12px}.error{color:#c0392b;font-size:13px}`;
}
