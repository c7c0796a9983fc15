'use client';
import { RealtimeProvider, useChannel, useConnectionState, usePresence } from 'switchboard/react';
import { RealtimeClient } from 'switchboard/sdk';

const getToken = async () => ((await (await fetch('/api/realtime-token', { method: 'POST' })).json()) as { token: string }).token;

function Status({ channel }: { channel: string }) {
  const state = useConnectionState();
  const { state: subscription } = useChannel(channel);
  const { members } = usePresence(channel);
  return (
    <p id="live">
      {state} · {subscription} · here: {members.map((member) => member.user).join(', ') || 'nobody'}
    </p>
  );
}

// The provider makes its client in an effect: nothing connects while Next renders on the server.
export function Live({ channel }: { channel: string }) {
  return (
    <RealtimeProvider create={() => new RealtimeClient(`${location.origin.replace('http', 'ws')}/rt`, { getToken })}>
      <Status channel={channel} />
    </RealtimeProvider>
  );
}
