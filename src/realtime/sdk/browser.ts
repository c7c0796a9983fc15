/**
 * Entry of the browser bundle (dist/browser/switchboard-sdk.js, built by
 * scripts/build-browser.mjs): the platform-neutral SDK, using the browser's
 * own WebSocket.
 */
export * from './index.js';
