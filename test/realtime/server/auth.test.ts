// createJwtVerifier: HMAC secrets, RSA and EC public keys (PEM, KeyObject,
// CryptoKey), a JWKS served over local HTTP, claim checks, and the tokens it
// must refuse: expired, not yet valid, wrong issuer or audience, wrong
// signature, algorithm confusion, `alg: none`, garbage.
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT, type JWTPayload } from 'jose';
import { createJwtVerifier, TokenError, type JwtOptions } from '../../../src/realtime/server/auth.js';

type SigningKey = CryptoKey | Uint8Array;

const SECRET = 'a-test-secret-of-at-least-32-bytes!!';
const NOW = (): number => Math.floor(Date.now() / 1000);

/** A signed token with `claims`, issued now and valid for an hour unless the claims say otherwise. */
async function sign(key: SigningKey, alg: string, claims: JWTPayload = {}, header: { kid?: string } = {}): Promise<string> {
  return new SignJWT({ sub: 'alice', iat: NOW(), exp: NOW() + 3600, ...claims })
    .setProtectedHeader({ alg, ...header })
    .sign(key);
}

/** Asserts that `promise` rejects with a TokenError of `code` whose message matches `message`. */
async function refused(promise: Promise<unknown>, code: 'unauthorized' | 'token_expired', message?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof TokenError, `a TokenError, got ${String(error)}`);
    assert.equal(error.code, code);
    if (message !== undefined) assert.match(error.message, message);
    return true;
  });
}

/** An HTTP server on 127.0.0.1 serving `body` as JSON at /jwks.json, closed after the test. */
async function serveJwks(t: TestContext, body: () => unknown): Promise<{ url: string; requests: () => number }> {
  let requests = 0;
  const server: Server = createServer((request, response) => {
    requests++;
    if (request.url !== '/jwks.json') {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body()));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/jwks.json`, requests: () => requests };
}

const secretBytes = new TextEncoder().encode(SECRET);

describe('createJwtVerifier', () => {
  describe('key sources', () => {
    test('HS256 with a string secret returns the claims', async () => {
      const verify = createJwtVerifier({ secret: SECRET });
      const claims = await verify(await sign(secretBytes, 'HS256', { info: { name: 'Alice' } }));
      assert.equal(claims.sub, 'alice');
      assert.deepEqual(claims.info, { name: 'Alice' });
    });

    test('HS256 with a Uint8Array secret', async () => {
      const verify = createJwtVerifier({ secret: secretBytes });
      assert.equal((await verify(await sign(secretBytes, 'HS256'))).sub, 'alice');
    });

    test('a secret allows only HS256 unless `algorithms` says otherwise', async () => {
      const token = await sign(secretBytes, 'HS384');
      await refused(createJwtVerifier({ secret: SECRET })(token), 'unauthorized', /algorithm/);
      const verify = createJwtVerifier({ secret: SECRET, algorithms: ['HS256', 'HS384'] });
      assert.equal((await verify(token)).sub, 'alice');
    });

    test('one verifier keeps checking each HMAC algorithm with its own hash, and the secret as given at creation', async () => {
      const bytes = new Uint8Array(secretBytes);
      const verify = createJwtVerifier({ secret: bytes, algorithms: ['HS256', 'HS384', 'HS512'] });
      const other = new TextEncoder().encode('another-secret-of-at-least-32-bytes');
      for (let round = 0; round < 3; round++) {
        for (const alg of ['HS256', 'HS384', 'HS512']) {
          assert.equal((await verify(await sign(secretBytes, alg, { sub: `${alg}-${round}` }))).sub, `${alg}-${round}`);
          await refused(verify(await sign(other, alg)), 'unauthorized', /signature/);
        }
      }
      bytes.fill(0);
      assert.equal((await verify(await sign(secretBytes, 'HS512'))).sub, 'alice');
      await refused(verify(await sign(bytes, 'HS256')), 'unauthorized', /signature/);
    });

    test('RS256 with a PEM public key (algorithm inferred)', async () => {
      const { publicKey, privateKey } = await generateKeyPair('RS256');
      const verify = createJwtVerifier({ publicKey: await exportSPKI(publicKey) });
      assert.equal((await verify(await sign(privateKey, 'RS256'))).sub, 'alice');
    });

    test('ES256 with a PEM public key (algorithm inferred)', async () => {
      const { publicKey, privateKey } = await generateKeyPair('ES256');
      const verify = createJwtVerifier({ publicKey: await exportSPKI(publicKey) });
      assert.equal((await verify(await sign(privateKey, 'ES256'))).sub, 'alice');
      await refused(verify(await sign(secretBytes, 'HS256')), 'unauthorized', /algorithm/);
    });

    test('ES384 inferred from the curve', async () => {
      const { publicKey, privateKey } = await generateKeyPair('ES384');
      const verify = createJwtVerifier({ publicKey: await exportSPKI(publicKey) });
      assert.equal((await verify(await sign(privateKey, 'ES384'))).sub, 'alice');
    });

    test('a PEM key is imported once and serves concurrent verifications', async () => {
      const { publicKey, privateKey } = await generateKeyPair('RS256');
      const verify = createJwtVerifier({ publicKey: await exportSPKI(publicKey) });
      const tokens = await Promise.all(Array.from({ length: 10 }, (_, i) => sign(privateKey, 'RS256', { n: i })));
      const claims = await Promise.all(tokens.map((token) => verify(token)));
      assert.deepEqual(claims.map((c) => c.n), Array.from({ length: 10 }, (_, i) => i));
    });

    test('a Node KeyObject and a WebCrypto CryptoKey work as public keys', async () => {
      const { publicKey, privateKey } = await generateKeyPair('RS256');
      const token = await sign(privateKey, 'RS256');
      const keyObject = createPublicKey(await exportSPKI(publicKey));
      assert.equal((await createJwtVerifier({ publicKey: keyObject })(token)).sub, 'alice');
      assert.equal((await createJwtVerifier({ publicKey })(token)).sub, 'alice');
    });

    test('a token in an allowed algorithm the key cannot do is refused, not crashed on', async () => {
      const ec = await generateKeyPair('ES256');
      const rsa = await generateKeyPair('RS256');
      const verify = createJwtVerifier({ publicKey: await exportSPKI(ec.publicKey), algorithms: ['ES256', 'RS256'] });
      assert.equal((await verify(await sign(ec.privateKey, 'ES256'))).sub, 'alice');
      await refused(verify(await sign(rsa.privateKey, 'RS256')), 'unauthorized', /cannot verify RS256/);
    });

    test('JWKS over HTTP: the key is chosen by kid; an unknown kid is refused', async (t) => {
      const rsa = await generateKeyPair('RS256');
      const ec = await generateKeyPair('ES256');
      const keys = [
        { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
        { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
      ];
      const jwks = await serveJwks(t, () => ({ keys }));
      const verify = createJwtVerifier({ jwks: jwks.url, issuer: 'https://issuer.test' });
      const claims = { iss: 'https://issuer.test' };
      assert.equal((await verify(await sign(rsa.privateKey, 'RS256', claims, { kid: 'rsa-1' }))).sub, 'alice');
      assert.equal((await verify(await sign(ec.privateKey, 'ES256', claims, { kid: 'ec-1' }))).sub, 'alice');
      assert.ok(jwks.requests() >= 1);
      const stranger = await generateKeyPair('RS256');
      await refused(verify(await sign(stranger.privateKey, 'RS256', claims, { kid: 'other' })), 'unauthorized', /no key/);
      await refused(verify(await sign(stranger.privateKey, 'RS256', claims, { kid: 'rsa-1' })), 'unauthorized', /signature/);
    });

    test('JWKS given as a URL object, restricted by `algorithms`', async (t) => {
      const rsa = await generateKeyPair('RS256');
      const keys = { keys: [{ ...(await exportJWK(rsa.publicKey)), kid: 'k' }] };
      const served = await serveJwks(t, () => keys);
      const verify = createJwtVerifier({ jwks: new URL(served.url), algorithms: ['ES256'] });
      await refused(verify(await sign(rsa.privateKey, 'RS256', {}, { kid: 'k' })), 'unauthorized', /algorithm/);
      const rs = createJwtVerifier({ jwks: new URL(served.url), algorithms: ['RS256'] });
      assert.equal((await rs(await sign(rsa.privateKey, 'RS256', {}, { kid: 'k' }))).sub, 'alice');
    });

    test('an unreachable or broken JWKS refuses the token', async (t) => {
      const rsa = await generateKeyPair('RS256');
      const token = await sign(rsa.privateKey, 'RS256', {}, { kid: 'k' });
      const broken = await serveJwks(t, () => ({ nope: true }));
      await refused(createJwtVerifier({ jwks: broken.url })(token), 'unauthorized', /JWKS/);
      const missing = await serveJwks(t, () => ({}));
      await refused(createJwtVerifier({ jwks: missing.url.replace('/jwks.json', '/missing') })(token), 'unauthorized', /JWKS/);
      await refused(createJwtVerifier({ jwks: 'http://127.0.0.1:1/jwks.json' })(token), 'unauthorized', /JWKS could not be loaded/);
    });
  });

  describe('claims', () => {
    const verify = createJwtVerifier({ secret: SECRET });

    test('an expired token is token_expired; clockTolerance lets a recent expiry pass', async () => {
      const token = await sign(secretBytes, 'HS256', { iat: NOW() - 120, exp: NOW() - 10 });
      await refused(verify(token), 'token_expired', /expired/);
      const tolerant = createJwtVerifier({ secret: SECRET, clockTolerance: 60 });
      assert.equal((await tolerant(token)).sub, 'alice');
    });

    test('a token not valid yet is refused', async () => {
      const token = await sign(secretBytes, 'HS256', { nbf: NOW() + 300 });
      await refused(verify(token), 'unauthorized', /not valid yet/);
    });

    test('issuer and audience must match when configured', async () => {
      const strict = createJwtVerifier({ secret: SECRET, issuer: 'https://auth.test', audience: ['app', 'admin'] });
      const good = await sign(secretBytes, 'HS256', { iss: 'https://auth.test', aud: 'app' });
      assert.equal((await strict(good)).aud, 'app');
      await refused(strict(await sign(secretBytes, 'HS256', { iss: 'https://evil.test', aud: 'app' })), 'unauthorized', /issuer/);
      await refused(strict(await sign(secretBytes, 'HS256', { iss: 'https://auth.test', aud: 'other' })), 'unauthorized', /audience/);
      await refused(strict(await sign(secretBytes, 'HS256', { aud: 'app' })), 'unauthorized', /issuer/);
    });
  });

  describe('refused tokens', () => {
    test('a wrong signature is refused', async () => {
      const verify = createJwtVerifier({ secret: SECRET });
      await refused(verify(await sign(new TextEncoder().encode('another secret of enough length!!'), 'HS256')), 'unauthorized', /signature/);
      const { publicKey } = await generateKeyPair('RS256');
      const other = await generateKeyPair('RS256');
      const rsaVerify = createJwtVerifier({ publicKey: await exportSPKI(publicKey) });
      await refused(rsaVerify(await sign(other.privateKey, 'RS256')), 'unauthorized', /signature/);
    });

    test('algorithm confusion: an HS256 token keyed with the RSA public key text is refused', async () => {
      const { publicKey } = await generateKeyPair('RS256');
      const pem = await exportSPKI(publicKey);
      const forged = await sign(new TextEncoder().encode(pem), 'HS256', { sub: 'admin' });
      await refused(createJwtVerifier({ publicKey: pem })(forged), 'unauthorized', /algorithm/);
      await refused(createJwtVerifier({ publicKey: createPublicKey(pem) })(forged), 'unauthorized', /algorithm/);
      await refused(createJwtVerifier({ publicKey })(forged), 'unauthorized', /algorithm/);
    });

    test('an unsecured token (alg none) is refused', async () => {
      const unsecured = new UnsecuredJWT({ sub: 'admin' }).setExpirationTime('1h').encode();
      await refused(createJwtVerifier({ secret: SECRET })(unsecured), 'unauthorized');
      const { publicKey } = await generateKeyPair('ES256');
      await refused(createJwtVerifier({ publicKey })(unsecured), 'unauthorized');
    });

    test('garbage is refused as unauthorized', async () => {
      const verify = createJwtVerifier({ secret: SECRET });
      const valid = await sign(secretBytes, 'HS256');
      for (const token of ['', 'garbage', 'a.b.c', '...', valid.slice(0, -5), `${valid}.extra`, 'eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln']) {
        await refused(verify(token), 'unauthorized');
      }
      await refused(verify(undefined as unknown as string), 'unauthorized', /no token/);
    });
  });

  describe('configuration', () => {
    test('exactly one key source is required', () => {
      const cases: JwtOptions[] = [{}, { secret: SECRET, publicKey: 'x' }, { secret: SECRET, jwks: 'https://a.test/jwks' }, { algorithms: ['HS256'] }];
      for (const options of cases) assert.throws(() => createJwtVerifier(options), TypeError);
    });

    test('unusable keys and options fail at creation with a TypeError', () => {
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      assert.throws(() => createJwtVerifier({ publicKey: 'not a pem' }), /PEM/);
      assert.throws(() => createJwtVerifier({ jwks: 'not a url' }), TypeError);
      assert.throws(() => createJwtVerifier({ secret: '' }), TypeError);
      assert.throws(() => createJwtVerifier({ secret: SECRET, algorithms: [] }), TypeError);
      assert.throws(() => createJwtVerifier({ publicKey: privateKey }), /public key/);
      const ed = createJwtVerifier({ publicKey });
      assert.equal(typeof ed, 'function', 'an Ed25519 key infers EdDSA');
    });

    test('TokenError carries its code', () => {
      const error = new TokenError('token_expired', 'the token has expired');
      assert.ok(error instanceof Error);
      assert.equal(error.name, 'TokenError');
      assert.equal(error.code, 'token_expired');
    });
  });
});
