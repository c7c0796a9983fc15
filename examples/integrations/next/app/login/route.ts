import { cookies } from 'next/headers';
import { signSession } from '../../session';

export async function POST(request: Request) {
  const { user } = (await request.json()) as { user: string };
  (await cookies()).set('sid', await signSession(String(user)), { httpOnly: true, sameSite: 'lax', path: '/' });
  return Response.json({ user });
}
