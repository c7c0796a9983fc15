/**
 * A page for browser tests of the real-time SDK: it loads the built browser
 * bundle (served by the test at /switchboard-sdk.js) and sets
 * `window.sdkLoaded`; and the in-page round trip those tests run.
 */
import { fileURLToPath } from 'node:url';

/** The built SDK bundle (`npm run build`). */
export const SDK_BUNDLE = fileURLToPath(new URL('../../dist/browser/switchboard-sdk.js', import.meta.url));

export const SDK_PAGE = `<!doctype html><meta charset="utf-8"><title>sdk</title>
<script type="module">
  import * as sdk from '/switchboard-sdk.js';
  window.sdk = sdk;
  window.sdkLoaded = true;
</script>`;

/**
 * Runs in the page, called with `{ path, channel, data }`: the SDK connects
 * over a WebSocket to `path` of the page's origin (wss), subscribes to
 * `channel`, publishes `data` and resolves the data of the publication it
 * receives; the client is left open as `window.sdkClient`.
 */
export const SDK_ROUND_TRIP = `async ({ path, channel, data }) => {
  const { RealtimeClient } = window.sdk;
  const client = new RealtimeClient('wss://' + location.host + path);
  const connected = new Promise((resolve) => client.once('connected', resolve));
  client.connect();
  await connected;
  const subscription = client.subscribe(channel);
  const received = new Promise((resolve) => subscription.on('publication', (publication) => resolve(publication.data)));
  await subscription.ready();
  await subscription.publish(data);
  const got = await received;
  window.sdkClient = client;
  return got;
}`;
