// The session cookie buys a short-lived token; the client sends it in `connect` (getToken), over either transport.
import { cookies } from 'next/headers';
import { sessionUser, signRealtimeToken } from '../../../session';

export async function POST() {
  const user = await sessionUser((await cookies()).get('sid')?.value);
  if (user === undefined) return new Response(null, { status: 401 });
  return Response.json({ token: await signRealtimeToken(user) });
}
