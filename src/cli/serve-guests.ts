/**
 * Guests of `switchboard serve`: who they are and what they are called.
 *
 * - **Ids are the server's.** A guest's user id is `guest-<16 random
 *   base64url characters>` (96 bits), never a value the client picked. To
 *   stay the same person across reloads the page stores the guest token the
 *   connect result returns (`data.id`) and sends it back as connect data
 *   `id`: the id followed by an HMAC-SHA256 of it under the server's secret
 *   (`auth.guestSecret`, else random per start). Other people see only the
 *   user id, never the token, so nobody can present someone else's.
 * - **Names are normalised**: NFKC, no control, format (bidi, zero-width),
 *   private-use, unassigned or default-ignorable characters, runs of spaces
 *   made one, at most two combining marks in a row, `#` removed, trimmed,
 *   at most 24 characters.
 * - **Two people never look the same**: every display name ends with
 *   `#` and 6 hex digits derived from the user id (`Ada#3f2a9c`), which a
 *   name cannot imitate (it has no `#`).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Characters of a display name before its discriminator. */
export const MAX_NAME_LENGTH = 24;
/** Hex digits of the discriminator appended to display names. */
export const DISCRIMINATOR_LENGTH = 6;
/** The prefix of every guest's user id. */
export const GUEST_PREFIX = 'guest-';
/** Shortest `auth.guestSecret` accepted. */
export const MIN_GUEST_SECRET_LENGTH = 32;

/** Random bytes of a guest id (16 base64url characters). */
const ID_BYTES = 12;
const ID_LENGTH = 16;
/** base64url characters of the token's MAC (132 bits). */
const MAC_LENGTH = 22;
/** A guest token: id then MAC, 38 base64url characters (what the pages' stored-id check accepts). */
const TOKEN = /^[A-Za-z0-9_-]{38}$/;

/** Controls, format characters (bidi, zero-width), private use, surrogates, unassigned and default-ignorable code points, line separators, Braille blank. */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Co}\p{Cs}\p{Cn}\p{Default_Ignorable_Code_Point}\p{Zl}\p{Zp}\u2800]/gu;
const SPACES = /\p{Zs}+/gu;
const MARK_RUNS = /(\p{M}{2})\p{M}+/gu;

/**
 * A display name as a client sent it, normalised (see the module comment)
 * without its discriminator; `fallback` when nothing is left.
 */
export function normalizeName(value: unknown, fallback: string): string {
  if (typeof value !== 'string') return fallback;
  const cleaned = value
    .slice(0, 1024)
    .normalize('NFKC')
    .replace(INVISIBLE, '')
    .replace(/#/g, '')
    .replace(MARK_RUNS, '$1')
    .replace(SPACES, ' ')
    .normalize('NFKC')
    .trim();
  const capped = [...cleaned].slice(0, MAX_NAME_LENGTH).join('').trim();
  return capped === '' ? fallback : capped;
}

/** The discriminator of a user id: 6 hex digits of its SHA-256. */
export function discriminatorOf(user: string): string {
  return createHash('sha256').update(user).digest('hex').slice(0, DISCRIMINATOR_LENGTH);
}

/** What people see: the normalised name, `#`, and the user id's discriminator (`Ada#3f2a9c`). */
export function displayName(name: unknown, user: string, fallback: string): string {
  return `${normalizeName(name, fallback)}#${discriminatorOf(user)}`;
}

/** Issues and checks guest tokens under one secret. */
export class GuestIdentities {
  private readonly key: Buffer;

  /** `secret`: shared by every process that must accept the same tokens; random when absent. */
  constructor(secret?: string) {
    this.key = secret === undefined ? randomBytes(32) : Buffer.from(secret, 'utf8');
  }

  /**
   * The guest a connect's `id` stands for: the same guest when it is a token
   * this server issued, else a new one. Returns its user id and its token.
   */
  identify(presented: unknown): { user: string; token: string } {
    const id = this.verify(presented) ?? randomBytes(ID_BYTES).toString('base64url');
    return { user: `${GUEST_PREFIX}${id}`, token: `${id}${this.mac(id)}` };
  }

  /** The id inside a valid token, else undefined. */
  private verify(token: unknown): string | undefined {
    if (typeof token !== 'string' || !TOKEN.test(token)) return undefined;
    const id = token.slice(0, ID_LENGTH);
    const expected = Buffer.from(this.mac(id));
    const given = Buffer.from(token.slice(ID_LENGTH));
    return given.length === expected.length && timingSafeEqual(given, expected) ? id : undefined;
  }

  private mac(id: string): string {
    return createHmac('sha256', this.key).update(`switchboard-guest:${id}`).digest('base64url').slice(0, MAC_LENGTH);
  }
}
