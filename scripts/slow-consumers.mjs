#!/usr/bin/env node
// The slow-consumer attack at scale (the CI test runs it with 1 000):
//
//   node --expose-gc scripts/slow-consumers.mjs [--consumers 10000] [--policy drop|close]
//        [--message-size 16384] [--messages 60] [--max-buffered 65536]
//
// Consumers that never read, in a child process on a Unix socket, while the
// server broadcasts and a well-behaved client keeps echoing; prints how long
// broadcast() took, the bytes queued per consumer, the server's RSS before
// and after, and the bound the cap allows (test/security/slow-consumers.ts).
import { parseArgs } from 'node:util';
import { register } from 'tsx/esm/api';

register();
const { runSlowConsumers } = await import('../test/security/slow-consumers.ts');

const { values } = parseArgs({
  options: {
    consumers: { type: 'string', default: '10000' },
    policy: { type: 'string', default: 'drop' },
    'message-size': { type: 'string', default: '16384' },
    messages: { type: 'string', default: '60' },
    'max-buffered': { type: 'string', default: '65536' },
  },
});
if (values.policy !== 'drop' && values.policy !== 'close') {
  console.error('--policy is drop or close');
  process.exit(2);
}
const result = await runSlowConsumers({
  consumers: Number(values.consumers),
  policy: values.policy,
  messageSize: Number(values['message-size']),
  messages: Number(values.messages),
  maxBufferedAmount: Number(values['max-buffered']),
});
const echoes = [...result.echoMs].sort((a, b) => a - b);
console.log(JSON.stringify({ ...result, echoMs: undefined, echoes: echoes.length, echoP50Ms: echoes[Math.floor(echoes.length / 2)] ?? null, echoMaxMs: echoes.at(-1) ?? null }, null, 2));
