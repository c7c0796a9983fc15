// Bad input on the real-time protocol through real sockets: MessagePack whose
// headers declare millions of items (once ~200 MB and 400 ms of decoding per
// 6 bytes). The sender is closed with 4500 at once, memory stays flat, and
// another client keeps getting replies. (Publications over the size limit and
// data nested too deeply: test/realtime/server/publish-limits.test.ts.)
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MSGPACK_PROTOCOL, startServer, WireClient } from '../realtime/server/wire-client.js';
import { rssMiB } from './helpers.js';

describe('real-time protocol', () => {
  test('MessagePack declaring millions of items: close 4500 at once, memory flat, others served', async (t) => {
    const { server, url } = await startServer({ namespaces: { '': { publish: 'clients' } } });
    t.after(() => server.close());
    const { client: bystander } = await WireClient.connect(url);
    const bombs = [
      // {"type": [ 23 242 349 elements … ]}
      Buffer.concat([Buffer.from([0x81, 0xa4, 0x74, 0x79, 0x70, 0x65, 0xdd, 0x01, 0x62, 0xa6, 0x6d]), Buffer.alloc(180, 0xc0)]),
      // 10 000 nested array headers, each claiming 50 000 elements
      Buffer.concat(Array.from({ length: 10_000 }, () => Buffer.from([0xdd, 0x00, 0x00, 0xc3, 0x50]))),
    ];
    const before = rssMiB();
    const started = performance.now();
    for (let round = 0; round < 10; round++) {
      for (const bomb of bombs) {
        const attacker = await WireClient.open(url, { protocols: [MSGPACK_PROTOCOL] });
        attacker.ws.send(bomb);
        assert.equal((await attacker.closed).code, 4500);
      }
      const published = (await bystander.request('publish', { channel: 'room', data: round })) as { offset: number };
      assert.equal(published.offset, round + 1);
    }
    const elapsed = performance.now() - started;
    const grown = rssMiB() - before;
    assert.ok(grown < 48, `RSS grew by ${grown.toFixed(1)} MiB`);
    console.log(JSON.stringify({ msgpackBombs: { connections: 20, ms: Math.round(elapsed), rssGrowthMiB: +grown.toFixed(1) } }));
    await bystander.close();
  });
});
