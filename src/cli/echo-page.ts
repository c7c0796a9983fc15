/**
 * The page served by `switchboard echo` at `/`: a small client that talks to
 * the echo endpoint with the browser's own WebSocket.
 */
export const ECHO_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchboard echo</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #1d2330; }
  h1 { font-size: 1.4rem; margin-bottom: .2rem; }
  #status { font-weight: 600; }
  #status.open { color: #137333; } #status.closed { color: #b3261e; }
  form { display: flex; gap: .5rem; margin: 1rem 0; }
  input[type=text] { flex: 1; padding: .45rem; font: inherit; }
  button { padding: .45rem .8rem; font: inherit; cursor: pointer; }
  ol { list-style: none; padding: 0; font-family: ui-monospace, monospace; font-size: 13px; }
  li { padding: .2rem .4rem; border-bottom: 1px solid #eee; }
  li.out { color: #555; } li.in { color: #0b57d0; } li.info { color: #8a5a00; }
</style>
</head>
<body>
<h1>Switchboard echo</h1>
<p>This page opens a WebSocket to the server that served it. Every message you send comes back with its type.</p>
<p>Status: <span id="status">connecting…</span> <span id="details"></span></p>
<form id="form">
  <input id="text" type="text" autocomplete="off" placeholder="Type a message" autofocus>
  <button type="submit">Send text</button>
  <button type="button" id="binary">Send as binary</button>
  <button type="button" id="close">Close</button>
</form>
<ol id="log"></ol>
<script>
  const log = document.getElementById('log');
  const status = document.getElementById('status');
  const input = document.getElementById('text');
  function line(kind, text) {
    const item = document.createElement('li');
    item.className = kind;
    item.textContent = text;
    log.prepend(item);
  }
  const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/echo';
  const socket = new WebSocket(url);
  socket.binaryType = 'arraybuffer';
  socket.onopen = () => {
    status.textContent = 'open';
    status.className = 'open';
    document.getElementById('details').textContent = url + (socket.protocol ? ' (' + socket.protocol + ')' : '');
  };
  socket.onmessage = (event) => {
    if (typeof event.data === 'string') line('in', '← text: ' + event.data);
    else line('in', '← binary (' + event.data.byteLength + ' bytes): ' + Array.from(new Uint8Array(event.data), (b) => b.toString(16).padStart(2, '0')).join(' '));
  };
  socket.onclose = (event) => {
    status.textContent = 'closed';
    status.className = 'closed';
    line('info', 'closed: code ' + event.code + (event.reason ? ', reason "' + event.reason + '"' : '') + (event.wasClean ? '' : ' (not clean)'));
  };
  socket.onerror = () => line('info', 'error');
  document.getElementById('form').onsubmit = (event) => {
    event.preventDefault();
    socket.send(input.value);
    line('out', '→ text: ' + input.value);
    input.value = '';
  };
  document.getElementById('binary').onclick = () => {
    const bytes = new TextEncoder().encode(input.value);
    socket.send(bytes);
    line('out', '→ binary (' + bytes.length + ' bytes)');
    input.value = '';
  };
  document.getElementById('close').onclick = () => socket.close(1000, 'bye');
</script>
</body>
</html>
`;
