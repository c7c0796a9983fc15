// The chat's core with switchboard/react: rooms, messages (history, then live), who is here, a composer.
// Bundled for the browser by server.ts with esbuild.
import { StrictMode, useEffect, useState, type FormEvent } from 'react';
import { createRoot } from 'react-dom/client';
import { createRealtimeHooks, RealtimeProvider } from 'switchboard/react';
import { RealtimeClient } from 'switchboard/sdk';
import type { ChatApi } from './api.js';

const { useConnectionState, useChannel, useHistory, usePresence, useCall } = createRealtimeHooks<ChatApi>();

function Rooms({ current, onOpen }: { current: string; onOpen: (room: string) => void }) {
  const list = useCall('rooms.list');
  const create = useCall('rooms.create');
  const [name, setName] = useState('');
  const state = useConnectionState();
  useEffect(() => {
    if (state === 'connected') list.call().catch(() => {});
  }, [state, create.result]);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.call({ name }).then(({ room }) => (setName(''), onOpen(room)), () => {});
  };
  return (
    <nav>
      <h2>Rooms</h2>
      <ul>
        {(list.result ?? [current]).map((room) => (
          <li key={room}>
            <button className={room === current ? 'current' : ''} onClick={() => onOpen(room)}># {room}</button>
          </li>
        ))}
      </ul>
      <form onSubmit={submit}>
        <input value={name} onChange={(event) => setName(event.target.value)} placeholder="new room" />
      </form>
      {create.error && <p className="error">{create.error.message}</p>}
    </nav>
  );
}

function Messages({ room }: { room: string }) {
  const { publications, loading } = useHistory(`chat:${room}`, { limit: 100 });
  if (loading) return <ol className="messages"><li className="muted">loading…</li></ol>;
  return (
    <ol className="messages">
      {publications.map(({ offset, data, info }) => (
        <li key={offset}>
          <b>{info?.user ?? 'server'}</b> {data.text}
        </li>
      ))}
    </ol>
  );
}

function Composer({ room }: { room: string }) {
  const { publish, state } = useChannel(`chat:${room}`);
  const [text, setText] = useState('');
  const send = (event: FormEvent) => {
    event.preventDefault();
    if (text.trim() === '') return;
    publish({ text }).then(() => setText(''), () => {});
  };
  return (
    <form className="composer" onSubmit={send}>
      <input value={text} onChange={(event) => setText(event.target.value)} placeholder={`Message #${room}`} disabled={state !== 'subscribed'} />
      <button disabled={state !== 'subscribed'}>Send</button>
    </form>
  );
}

function Members({ room }: { room: string }) {
  const { members } = usePresence(`chat:${room}`);
  const users = [...new Set(members.map((member) => member.user))].sort();
  return (
    <aside>
      <h2>Here ({users.length})</h2>
      <ul>
        {users.map((user) => (
          <li key={user}>
            <span className="dot">●</span> {user}
          </li>
        ))}
      </ul>
    </aside>
  );
}

function Chat({ user }: { user: string }) {
  const [room, setRoom] = useState('lobby');
  const state = useConnectionState();
  return (
    <div className="chat">
      <header>
        <h1>Switchboard chat</h1>
        <span className={`state ${state}`}>{state}</span>
        <span className="user">{user}</span>
      </header>
      <Rooms current={room} onOpen={setRoom} />
      <main>
        <Messages room={room} />
        <Composer room={room} />
      </main>
      <Members room={room} />
    </div>
  );
}

function App() {
  const [user, setUser] = useState(new URLSearchParams(location.search).get('user') ?? '');
  const [draft, setDraft] = useState('');
  if (user === '') {
    return (
      <form className="login" onSubmit={(event) => (event.preventDefault(), setUser(draft.trim()))}>
        <h1>Switchboard chat</h1>
        <input autoFocus value={draft} onChange={(event) => setDraft(event.target.value)} placeholder="your name" />
      </form>
    );
  }
  // The demo server takes the name as the token; a real app gets one from its session (docs/integrations.md).
  return (
    <RealtimeProvider create={() => new RealtimeClient<ChatApi>(`${location.origin.replace('http', 'ws')}/rt`, { token: user })}>
      <Chat user={user} />
    </RealtimeProvider>
  );
}

createRoot(document.getElementById('app')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
