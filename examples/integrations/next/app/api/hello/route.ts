import { cookies } from 'next/headers';
import { sessionUser } from '../../../session';

export async function GET() {
  return Response.json({ hello: (await sessionUser((await cookies()).get('sid')?.value)) ?? 'stranger' });
}
