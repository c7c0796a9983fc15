/**
 * JWT verification for the real-time server, built on `jose`. A verifier is
 * made once from the server's `auth.jwt` options and then checks each token:
 * signature (with exactly one key source: a shared secret, a public key, or a
 * remote JWKS), the allowed algorithms, and the `exp`, `nbf`, `iss` and `aud`
 * claims.
 *
 * Algorithms are always pinned: a secret allows HS256 (unless
 * `algorithms` says otherwise), a public key allows the algorithm of its key
 * type. So a token that names another algorithm (e.g. an HS256 token
 * "signed" with the text of an RSA public key) is refused before any key is
 * used.
 */
import { createPublicKey, KeyObject, type webcrypto } from 'node:crypto';
import {
  createRemoteJWKSet,
  errors,
  importSPKI,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
  type KeyInput,
} from 'jose';

export type { JWTPayload } from 'jose';

/** Where keys come from and which tokens are accepted. Exactly one of `secret`, `publicKey`, `jwks`. */
export interface JwtOptions {
  /** A shared secret for HMAC (HS256 by default; HS384/HS512 via `algorithms`). */
  secret?: string | Uint8Array;
  /** A public key: PEM text (SPKI, PKCS#1 or an X.509 certificate), a Node KeyObject or a WebCrypto CryptoKey. */
  publicKey?: string | KeyObject | webcrypto.CryptoKey;
  /** The URL of a JSON Web Key Set, fetched (and cached) by jose. */
  jwks?: string | URL;
  /** The accepted `alg` values. Default: HS256 for a secret, the key type's algorithm for a public key, the JWK's for a JWKS. */
  algorithms?: string[];
  /** The required `iss` claim. */
  issuer?: string;
  /** The accepted `aud` claim value(s). */
  audience?: string | string[];
  /** Leeway for `exp` and `nbf`, in seconds. */
  clockTolerance?: number;
}

/** The reply code a refused token maps to. */
export type TokenErrorCode = 'unauthorized' | 'token_expired';

/** A token was refused: expired (`token_expired`) or invalid for any other reason (`unauthorized`). */
export class TokenError extends Error {
  override readonly name = 'TokenError';
  readonly code: TokenErrorCode;

  constructor(code: TokenErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Checks a token; resolves its claims or rejects with a `TokenError`. */
export type JwtVerifier = (token: string) => Promise<JWTPayload>;

/** The key (or key resolver) to verify with, and the algorithms to allow. */
interface KeySource {
  key: KeyInput | JWTVerifyGetKey;
  algorithms: string[] | undefined;
}

/** Throws a TypeError unless exactly one key source is configured. */
function checkOneKeySource(options: JwtOptions): void {
  const sources = (['secret', 'publicKey', 'jwks'] as const).filter((name) => options[name] !== undefined);
  if (sources.length !== 1) {
    const found = sources.length === 0 ? 'none' : sources.join(' and ');
    throw new TypeError(`jwt options need exactly one of secret, publicKey, jwks (got ${found})`);
  }
}

/** The algorithms option, checked: a non-empty list of strings. */
function configuredAlgorithms(options: JwtOptions): string[] | undefined {
  const { algorithms } = options;
  if (algorithms === undefined) return undefined;
  if (!Array.isArray(algorithms) || algorithms.length === 0 || !algorithms.every((alg) => typeof alg === 'string')) {
    throw new TypeError('jwt.algorithms must be a non-empty array of algorithm names');
  }
  return [...algorithms];
}

/** A shared secret as bytes, with HS256 as the default algorithm. */
function secretSource(secret: string | Uint8Array, algorithms: string[] | undefined): KeySource {
  const key = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  if (!(key instanceof Uint8Array) || key.length === 0) throw new TypeError('jwt.secret must be a non-empty string or Uint8Array');
  return { key: lazyHmacKey(key), algorithms: algorithms ?? ['HS256'] };
}

/** The WebCrypto hash of each HMAC JWS algorithm. */
const HMAC_HASHES: Readonly<Record<string, string>> = { HS256: 'SHA-256', HS384: 'SHA-384', HS512: 'SHA-512' };

/**
 * A secret imported once per HMAC algorithm as a WebCrypto key, instead of
 * once per token (which jose does when handed the raw bytes). A token whose
 * algorithm is not HMAC gets the raw bytes, which jose refuses for it.
 */
function lazyHmacKey(secret: Uint8Array): JWTVerifyGetKey {
  const bytes = new Uint8Array(secret);
  const imported = new Map<string, Promise<CryptoKey>>();
  return (header) => {
    const alg = header.alg ?? '';
    const hash = HMAC_HASHES[alg];
    if (hash === undefined) return bytes;
    let key = imported.get(alg);
    if (key === undefined) {
      key = crypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash }, false, ['verify']);
      imported.set(alg, key);
    }
    return key;
  };
}

/** The JWS algorithm of an elliptic curve, by its Node or WebCrypto name. */
function curveAlgorithm(curve: string | undefined): string | undefined {
  switch (curve) {
    case 'prime256v1':
    case 'P-256':
      return 'ES256';
    case 'secp384r1':
    case 'P-384':
      return 'ES384';
    case 'secp521r1':
    case 'P-521':
      return 'ES512';
    default:
      return undefined;
  }
}

/** The algorithm a Node public key is used with: RSA → RS256, EC → ES256/384/512, Ed25519 → EdDSA. */
function keyObjectAlgorithm(key: KeyObject): string | undefined {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return 'RS256';
    case 'rsa-pss':
      return 'PS256';
    case 'ec':
      return curveAlgorithm(key.asymmetricKeyDetails?.namedCurve);
    case 'ed25519':
      return 'EdDSA';
    default:
      return undefined;
  }
}

/** The JWS algorithm a WebCrypto key was imported for. */
function cryptoKeyAlgorithm(key: CryptoKey): string | undefined {
  const algorithm = key.algorithm as { name: string; hash?: { name?: string }; namedCurve?: string };
  const bits = algorithm.hash?.name?.replace('SHA-', '');
  switch (algorithm.name) {
    case 'RSASSA-PKCS1-v1_5':
      return bits === undefined ? undefined : `RS${bits}`;
    case 'RSA-PSS':
      return bits === undefined ? undefined : `PS${bits}`;
    case 'ECDSA':
      return curveAlgorithm(algorithm.namedCurve);
    case 'Ed25519':
      return 'EdDSA';
    default:
      return undefined;
  }
}

/** `algorithms` when configured, else the one inferred from the key, else a TypeError. */
function pinnedAlgorithms(configured: string[] | undefined, inferred: string | undefined, keyType: string): string[] {
  if (configured !== undefined) return configured;
  if (inferred === undefined) throw new TypeError(`cannot tell the algorithm of a ${keyType} key: set jwt.algorithms`);
  return [inferred];
}

/** Parses PEM text into a public key, or throws a TypeError. */
function parsePem(pem: string): KeyObject {
  try {
    return createPublicKey({ key: pem, format: 'pem' });
  } catch (error) {
    throw new TypeError('jwt.publicKey is not a PEM public key or certificate', { cause: error });
  }
}

/**
 * A resolver that imports the PEM key into WebCrypto once per algorithm, on
 * the first token that uses it (jose checks the algorithm against the allowed
 * list before asking).
 */
function lazyPemKey(spki: string): JWTVerifyGetKey {
  const imported = new Map<string, Promise<CryptoKey>>();
  return (header) => {
    const alg = header.alg ?? '';
    let key = imported.get(alg);
    if (key === undefined) {
      key = importSPKI(spki, alg).catch((error: unknown) => {
        throw new TokenError('unauthorized', `the public key cannot verify ${alg} tokens`, { cause: error });
      });
      imported.set(alg, key);
    }
    return key;
  };
}

/** A public key source with its algorithms pinned. */
function publicKeySource(publicKey: string | KeyObject | CryptoKey, algorithms: string[] | undefined): KeySource {
  if (typeof publicKey === 'string') {
    const parsed = parsePem(publicKey);
    const pinned = pinnedAlgorithms(algorithms, keyObjectAlgorithm(parsed), String(parsed.asymmetricKeyType));
    const spki = parsed.export({ type: 'spki', format: 'pem' }).toString();
    return { key: lazyPemKey(spki), algorithms: pinned };
  }
  if (publicKey instanceof KeyObject) {
    if (publicKey.type !== 'public') throw new TypeError(`jwt.publicKey must be a public key, got a ${publicKey.type} key`);
    return { key: publicKey, algorithms: pinnedAlgorithms(algorithms, keyObjectAlgorithm(publicKey), String(publicKey.asymmetricKeyType)) };
  }
  if (publicKey.type !== 'public') throw new TypeError(`jwt.publicKey must be a public key, got a ${publicKey.type} key`);
  return { key: publicKey, algorithms: pinnedAlgorithms(algorithms, cryptoKeyAlgorithm(publicKey), publicKey.algorithm.name) };
}

/**
 * A remote JWKS; jose fetches it on first use and caches it. Failing to load
 * it (unreachable, not 200, not a key set, timeout) refuses the token with a
 * message that says so.
 */
function jwksSource(jwks: string | URL, algorithms: string[] | undefined): KeySource {
  let url: URL;
  try {
    url = typeof jwks === 'string' ? new URL(jwks) : jwks;
  } catch (error) {
    throw new TypeError(`jwt.jwks is not a URL: ${String(jwks)}`, { cause: error });
  }
  const remote = createRemoteJWKSet(url);
  const key: JWTVerifyGetKey = async (header, token) => {
    try {
      return await remote(header, token);
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
      const detail = error instanceof Error ? error.message : String(error);
      throw new TokenError('unauthorized', `the JWKS could not be loaded (${detail})`, { cause: error });
    }
  };
  return { key, algorithms };
}

/** The key source the options name. */
function keySource(options: JwtOptions): KeySource {
  checkOneKeySource(options);
  const algorithms = configuredAlgorithms(options);
  if (options.secret !== undefined) return secretSource(options.secret, algorithms);
  if (options.publicKey !== undefined) return publicKeySource(options.publicKey, algorithms);
  return jwksSource(options.jwks!, algorithms);
}

/** The claim checks jose runs after the signature. */
function verifyOptions(options: JwtOptions, algorithms: string[] | undefined): JWTVerifyOptions {
  const verify: JWTVerifyOptions = {};
  if (algorithms !== undefined) verify.algorithms = algorithms;
  if (options.issuer !== undefined) verify.issuer = options.issuer;
  if (options.audience !== undefined) verify.audience = options.audience;
  if (options.clockTolerance !== undefined) verify.clockTolerance = options.clockTolerance;
  return verify;
}

/** Why a claim was refused, for humans. */
function claimMessage(claim: string): string {
  switch (claim) {
    case 'nbf':
      return 'the token is not valid yet (nbf)';
    case 'iss':
      return 'the token was issued by another issuer (iss)';
    case 'aud':
      return 'the token is meant for another audience (aud)';
    case 'iat':
      return 'the token has an invalid issue time (iat)';
    default:
      return `the token's "${claim}" claim is invalid`;
  }
}

/** Maps whatever verification threw to a `TokenError`. */
function toTokenError(error: unknown): TokenError {
  if (error instanceof TokenError) return error;
  const cause = { cause: error };
  if (error instanceof errors.JWTExpired) return new TokenError('token_expired', 'the token has expired', cause);
  if (error instanceof errors.JWTClaimValidationFailed) return new TokenError('unauthorized', claimMessage(error.claim), cause);
  if (error instanceof errors.JWSSignatureVerificationFailed) return new TokenError('unauthorized', 'the token signature is invalid', cause);
  if (error instanceof errors.JOSEAlgNotAllowed) return new TokenError('unauthorized', 'the token algorithm is not allowed', cause);
  if (error instanceof errors.JWKSNoMatchingKey) return new TokenError('unauthorized', 'no key of the JWKS matches the token', cause);
  if (error instanceof errors.JWKSMultipleMatchingKeys) {
    return new TokenError('unauthorized', 'several keys of the JWKS match the token: it needs a kid', cause);
  }
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) {
    return new TokenError('unauthorized', `the token is malformed: ${error.message}`, cause);
  }
  const detail = error instanceof Error ? error.message : String(error);
  return new TokenError('unauthorized', `the token could not be verified: ${detail}`, cause);
}

/**
 * Makes a JWT verifier from `options`. Throws a TypeError at once when the
 * options name no key source or several, or a key that cannot be used.
 * The verifier resolves the token's claims, or rejects with a `TokenError`:
 * `token_expired` for an expired token, `unauthorized` for anything else.
 */
export function createJwtVerifier(options: JwtOptions): JwtVerifier {
  const { key, algorithms } = keySource(options);
  const verify = verifyOptions(options, algorithms);
  return async (token: string): Promise<JWTPayload> => {
    if (typeof token !== 'string' || token.length === 0) throw new TokenError('unauthorized', 'no token');
    try {
      const { payload } = await jwtVerify(token, key, verify);
      return payload;
    } catch (error) {
      throw toTokenError(error);
    }
  };
}
