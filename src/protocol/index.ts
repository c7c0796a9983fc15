/**
 * `switchboard/protocol`: the sans-I/O RFC 6455 core. Bytes in, events out;
 * calls in, bytes out. No sockets, no timers.
 */
export * from './errors.js';
export * from './frame.js';
export * from './utf8.js';
export * from './close.js';
export * from './headers.js';
export * from './extension.js';
export * from './http.js';
export * from './handshake.js';
export * from './extended-connect.js';
export * from './limits.js';
export * from './parser.js';
export * from './connection.js';
export { randomMaskKey } from './mask-keys.js';
export * from './permessage-deflate.js';
export { isSyncZlibAvailable } from './zlib-engine.js';
