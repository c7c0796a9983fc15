// The small guards of the Node layer on their own: the ping rate limiter
// (with a fake clock), the idle sweeper, the per-address limiter and its
// default exemption, and the Host allowlist matching.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { BlockList } from 'node:net';
import type { Duplex } from 'node:stream';
import { describe, test } from 'node:test';
import { AddressLimiter, isLocalNetworkAddress } from '../../src/node/address-limit.js';
import { headTimeouts } from '../../src/node/http-server.js';
import { IdleSweeper, type IdleMember } from '../../src/node/idle.js';
import { PingLimiter, type PingDecision } from '../../src/node/ping-limit.js';
import { hostMatches } from '../../src/node/server-handshake.js';
import { parseHost } from '../../src/protocol/headers.js';

describe('PingLimiter', () => {
  function limiter(max: number, flood: number): { admit: (count?: number) => PingDecision[]; advance: (ms: number) => void } {
    let now = 1000;
    const pings = new PingLimiter(max, flood, () => now);
    return {
      admit: (count = 1) => Array.from({ length: count }, () => pings.admit()),
      advance: (ms) => (now += ms),
    };
  }

  test('answers up to the rate per one-second window, then ignores the rest', () => {
    const { admit, advance } = limiter(3, 5000);
    assert.deepEqual(admit(5), ['answer', 'answer', 'answer', 'ignore', 'ignore']);
    advance(999);
    assert.deepEqual(admit(), ['ignore']);
    advance(1);
    assert.deepEqual(admit(4), ['answer', 'answer', 'answer', 'ignore']);
  });

  test('a flood sustained over consecutive windows for floodTimeout ms is a flood', () => {
    const { admit, advance } = limiter(2, 2500);
    for (let second = 0; second < 3; second++) {
      assert.deepEqual(admit(3), ['answer', 'answer', 'ignore'], `second ${second}`);
      advance(1000);
    }
    // 3000 ms after the flood started, still over the rate.
    assert.deepEqual(admit(3), ['answer', 'answer', 'flood']);
  });

  test('a window within the rate ends the flood; a gap of a whole window too', () => {
    const { admit, advance } = limiter(2, 1500);
    admit(3);
    advance(1000);
    admit(2); // within the rate
    advance(1000);
    assert.deepEqual(admit(3), ['answer', 'answer', 'ignore']);
    advance(1000);
    admit(3);
    advance(2500); // a silent window in between
    assert.deepEqual(admit(3), ['answer', 'answer', 'ignore']);
  });
});

describe('IdleSweeper', () => {
  test('expires a member 8 ticks after its last activity, not one that stays active', async () => {
    // Timers count from the event loop's cached time, taken when the loop last woke: start on a fresh turn so that
    // `started` and the sweeper's timer agree.
    await new Promise((resolve) => setImmediate(resolve));
    const started = performance.now();
    const expired: string[] = [];
    const quiet: IdleMember & { name: string } = { idleTicks: 5, name: 'quiet' };
    const busy: IdleMember & { name: string } = { idleTicks: 0, name: 'busy' };
    const sweeper = new IdleSweeper<typeof quiet>(80, { expire: (member) => expired.push(member.name) });
    sweeper.add(quiet);
    sweeper.add(busy);
    assert.equal(quiet.idleTicks, 0, 'adding counts as activity');
    const keepBusy = setInterval(() => (busy.idleTicks = 0), 5);
    while (!expired.includes('quiet') && performance.now() - started < 3000) await new Promise((resolve) => setTimeout(resolve, 10));
    clearInterval(keepBusy);
    assert.ok(performance.now() - started >= 70, 'not before ⅞ of the timeout');
    assert.deepEqual(expired, ['quiet']);
    assert.equal(sweeper.size, 1);
    sweeper.stop();
    assert.equal(sweeper.size, 0);
  });

  test("watches the owner's set when given one: add and expiry change it, stop() leaves it", async () => {
    const owned = new Set<IdleMember & { name: string }>();
    const expired: string[] = [];
    const quiet = { idleTicks: 3, name: 'quiet' };
    const busy = { idleTicks: 0, name: 'busy' };
    const sweeper = new IdleSweeper<typeof quiet>(80, { expire: (member) => expired.push(member.name) }, owned);
    sweeper.add(quiet);
    owned.add(busy);
    sweeper.add(busy);
    assert.deepEqual([...owned].map((member) => member.name), ['quiet', 'busy'], 'one set: members are its entries');
    const keepBusy = setInterval(() => (busy.idleTicks = 0), 5);
    const started = performance.now();
    while (!expired.includes('quiet') && performance.now() - started < 3000) await new Promise((resolve) => setTimeout(resolve, 10));
    clearInterval(keepBusy);
    assert.deepEqual(expired, ['quiet']);
    assert.deepEqual([...owned].map((member) => member.name), ['busy'], 'an expired member leaves the set');
    sweeper.stop();
    assert.deepEqual([...owned].map((member) => member.name), ['busy'], "stop() does not clear the owner's set");
  });
});

describe('AddressLimiter', () => {
  function fakeSocket(remoteAddress: string | undefined): Duplex {
    return Object.assign(new EventEmitter(), { remoteAddress, closed: false }) as unknown as Duplex;
  }

  test('counts connections per address until their sockets close', () => {
    const limiter = new AddressLimiter(2, () => false);
    const a = [fakeSocket('203.0.113.7'), fakeSocket('203.0.113.7'), fakeSocket('203.0.113.7')];
    assert.equal(limiter.admit(a[0]!), true);
    assert.equal(limiter.admit(a[1]!), true);
    assert.equal(limiter.admit(a[2]!), false);
    assert.equal(limiter.admit(fakeSocket('198.51.100.1')), true, 'another address has its own count');
    a[0]!.emit('close');
    assert.equal(limiter.countOf('203.0.113.7'), 1);
    assert.equal(limiter.admit(a[2]!), true);
    a[1]!.emit('close');
    a[2]!.emit('close');
    assert.equal(limiter.countOf('203.0.113.7'), 0);
  });

  test('exempt addresses and sockets without an address are not counted', () => {
    const limiter = new AddressLimiter(1, isLocalNetworkAddress);
    for (let i = 0; i < 5; i++) assert.equal(limiter.admit(fakeSocket('127.0.0.1')), true);
    for (let i = 0; i < 5; i++) assert.equal(limiter.admit(fakeSocket(undefined)), true);
    assert.equal(limiter.countOf('127.0.0.1'), 0);
  });

  test('an exempt socket gets no listener; a counted one gets one shared listener, released once', () => {
    const limiter = new AddressLimiter(4, isLocalNetworkAddress);
    const local = fakeSocket('127.0.0.1');
    assert.equal(limiter.admit(local), true);
    assert.equal(local.listenerCount('close'), 0, 'nothing to release for an exempt address');
    const one = fakeSocket('203.0.113.7');
    const two = fakeSocket('203.0.113.7');
    limiter.admit(one);
    limiter.admit(two);
    assert.equal(one.listeners('close')[0], two.listeners('close')[0], 'one function for every counted socket');
    assert.equal(limiter.countOf('203.0.113.7'), 2);
    one.emit('close');
    one.emit('close');
    assert.equal(limiter.countOf('203.0.113.7'), 1, 'a socket is released once');
  });

  test('two limiters count the same socket each, and each releases it', () => {
    const sockets = new AddressLimiter(2, () => false);
    const connections = new AddressLimiter(1, () => false);
    const socket = fakeSocket('203.0.113.9');
    assert.equal(sockets.admit(socket), true);
    assert.equal(connections.admit(socket), true);
    assert.equal(connections.admit(fakeSocket('203.0.113.9')), false, 'the second limiter counted the socket too');
    socket.emit('close');
    assert.equal(sockets.countOf('203.0.113.9'), 0);
    assert.equal(connections.countOf('203.0.113.9'), 0);
  });

  test('the default exemption: loopback, private and link-local, IPv4-mapped too', () => {
    for (const local of ['127.0.0.1', '127.9.9.9', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.1.1', '::1', 'fd12::1', 'fe80::1', '::ffff:10.0.0.1', '::ffff:127.0.0.1']) {
      assert.equal(isLocalNetworkAddress(local), true, local);
    }
    for (const remote of ['8.8.8.8', '172.32.0.1', '11.0.0.1', '2001:db8::1', '::ffff:8.8.8.8']) assert.equal(isLocalNetworkAddress(remote), false, remote);
  });

  test('IPv4 addresses, plain and IPv4-mapped, are judged as a BlockList of the same networks judges them', () => {
    const reference = new BlockList();
    for (const [network, prefix] of [['127.0.0.0', 8], ['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16], ['169.254.0.0', 16]] as const) {
      reference.addSubnet(network, prefix, 'ipv4');
    }
    const firsts = [0, 9, 10, 11, 126, 127, 128, 168, 169, 170, 171, 172, 173, 191, 192, 193, 255];
    let seed = 7;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 20_000; i++) {
      const address = `${firsts[next(firsts.length)]}.${next(256)}.${next(256)}.${next(256)}`;
      const expected = reference.check(address, 'ipv4');
      assert.equal(isLocalNetworkAddress(address), expected, address);
      assert.equal(isLocalNetworkAddress(`::ffff:${address}`), expected, `::ffff:${address}`);
    }
  });
});

describe('Host', () => {
  test('parseHost: name, IPv4, IPv6 literal, optional port; lower case', () => {
    assert.deepEqual(parseHost('Example.COM'), { hostname: 'example.com', port: '' });
    assert.deepEqual(parseHost('example.com:8443'), { hostname: 'example.com', port: '8443' });
    assert.deepEqual(parseHost('192.0.2.1:80'), { hostname: '192.0.2.1', port: '80' });
    assert.deepEqual(parseHost('[::1]:9000'), { hostname: '[::1]', port: '9000' });
    assert.deepEqual(parseHost('[2001:db8::1]'), { hostname: '[2001:db8::1]', port: '' });
    assert.deepEqual(parseHost('host:'), { hostname: 'host', port: '' });
  });

  test('parseHost refuses what is not one host', () => {
    for (const bad of ['', 'a b', 'a, b', 'user@host', 'host/path', 'host:99999', 'host:8x', 'host:80:80', '[::1', '::1', '[zz]', 'a\tb', 'é.example', ':80']) {
      assert.equal(parseHost(bad), null, JSON.stringify(bad));
    }
  });

  test('allowlist entries: name (any port), name:port, .domain, IPv6 literal', () => {
    const allowed = ['app.example', 'api.example:8443', '.corp.example', '[::1]'];
    const check = (value: string): boolean => hostMatches(allowed, parseHost(value)!);
    assert.equal(check('APP.example:1234'), true);
    assert.equal(check('api.example:8443'), true);
    assert.equal(check('api.example'), false);
    assert.equal(check('api.example:443'), false);
    assert.equal(check('corp.example'), true);
    assert.equal(check('a.b.corp.example:80'), true);
    assert.equal(check('evilcorp.example'), false);
    assert.equal(check('[::1]:80'), true);
    assert.equal(check('rebind.attacker.example'), false);
  });
});

describe('standalone HTTP timeouts', () => {
  test('the head and the request within the handshake timeout, checked every quarter of it (50 ms to 1 s)', () => {
    assert.deepEqual(headTimeouts(10_000), { headersTimeout: 10_000, requestTimeout: 10_000, connectionsCheckingInterval: 1000 });
    assert.deepEqual(headTimeouts(400), { headersTimeout: 400, requestTimeout: 400, connectionsCheckingInterval: 100 });
    assert.equal(headTimeouts(100).connectionsCheckingInterval, 50);
  });
});
