// The app's sessions, stateless: the session cookie and the real-time token are JWTs signed with one secret,
// told apart by their audience. Used by the route handlers (app/) and by the custom server (server.ts).
import { jwtVerify, SignJWT } from 'jose';

export const SECRET = new TextEncoder().encode(process.env.SESSION_SECRET ?? 'dev-only-secret-of-at-least-32-bytes!');

const sign = (user: string, audience: string, expires: string) =>
  new SignJWT().setProtectedHeader({ alg: 'HS256' }).setSubject(user).setAudience(audience).setExpirationTime(expires).sign(SECRET);

export const signSession = (user: string) => sign(user, 'session', '7d');
/** A short-lived token for `connect`: the real-time server verifies it (auth.jwt, audience 'realtime'). */
export const signRealtimeToken = (user: string) => sign(user, 'realtime', '30s');

export async function sessionUser(cookie: string | undefined): Promise<string | undefined> {
  if (cookie === undefined) return undefined;
  const verified = await jwtVerify(cookie, SECRET, { audience: 'session' }).catch(() => undefined);
  return verified?.payload.sub;
}
