// The chat's API type, shared by the server (server.ts) and the React app (app.tsx).
export interface ChatApi {
  channels: { chat: { text: string } }; // chat:<room> carries { text }
  methods: {
    'rooms.list': { params: undefined; result: string[] };
    'rooms.create': { params: { name: string }; result: { room: string } };
  };
}
