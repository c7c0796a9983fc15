// Many consumers that never read, during a broadcast storm: broadcast() never
// waits, user-space queues stay under maxBufferedAmount, the server's memory
// stays within the cap's bound, and a well-behaved client keeps echoing.
// 1 000 consumers here; `node scripts/slow-consumers.mjs --consumers 10000` for more.
// broadcast() is bounded by its CPU time: the claim is about the work it does
// (9-70 ms of it here), and its wall time also counts the time a loaded
// machine keeps the process waiting for a core.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runSlowConsumers } from './slow-consumers.js';

const CONSUMERS = 1000;

describe('slow consumers during a broadcast', () => {
  test(`policy 'drop': ${CONSUMERS} consumers stay connected, queues capped, memory bounded`, async () => {
    const result = await runSlowConsumers({ consumers: CONSUMERS, messageSize: 16 * 1024, messages: 60, maxBufferedAmount: 64 * 1024, policy: 'drop' });
    console.log(JSON.stringify({ slowConsumers: { ...result, echoMs: undefined, echoes: result.echoMs.length, maxEchoMs: Math.max(...result.echoMs) } }));
    // +1: the well-behaved client may still be connected.
    assert.ok(result.openAtEnd >= CONSUMERS);
    assert.ok(result.maxQueuedBytes <= result.maxBufferedAmount, `${result.maxQueuedBytes} bytes queued for one consumer`);
    assert.ok(result.delivered < CONSUMERS * result.messages, 'some messages were dropped');
    assert.ok(result.maxBroadcastCpuMs < 250, `a broadcast took ${result.maxBroadcastCpuMs} ms of CPU (${result.maxBroadcastMs} ms)`);
    assert.ok(result.echoMs.length >= 3, `${result.echoMs.length} echoes`);
    assert.ok(result.rssGrowthMiB < result.capBoundMiB + 32, `RSS grew by ${result.rssGrowthMiB} MiB`);
  });

  test(`policy 'close': every slow consumer is disconnected, the well-behaved client is not`, async () => {
    const result = await runSlowConsumers({ consumers: CONSUMERS, messageSize: 16 * 1024, messages: 60, maxBufferedAmount: 64 * 1024, policy: 'close' });
    console.log(JSON.stringify({ slowConsumersClose: { ...result, echoMs: undefined, echoes: result.echoMs.length, maxEchoMs: Math.max(...result.echoMs) } }));
    assert.ok(result.openAtEnd <= 1, `${result.openAtEnd} still open`);
    assert.ok(result.maxBroadcastCpuMs < 250, `a broadcast took ${result.maxBroadcastCpuMs} ms of CPU (${result.maxBroadcastMs} ms)`);
    assert.ok(result.echoMs.length >= 3);
    assert.ok(result.rssGrowthMiB < result.capBoundMiB + 32, `RSS grew by ${result.rssGrowthMiB} MiB`);
  });
});
