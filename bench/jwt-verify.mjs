// JWT verifications per CPU second of one build's createJwtVerifier (HS256 secret): node bench/jwt-verify.mjs <dist>/realtime/server/auth.js
import { SignJWT } from 'jose';
const mod = await import(process.argv[2]);
const secret = 'a-secret-of-thirty-two-bytes-123';
const key = new TextEncoder().encode(secret);
const tokens = [];
for (let i = 0; i < 20000; i++) tokens.push(await new SignJWT({ sub: 'u' + i }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(key));
const verify = mod.createJwtVerifier({ secret });
for (let i = 0; i < 2000; i++) await verify(tokens[i]);
const c0 = process.cpuUsage();
for (const t of tokens) await verify(t);
const c = process.cpuUsage(c0);
console.log(process.argv[2], Math.round(tokens.length / ((c.user + c.system) / 1e6)), 'verifications per CPU-s');
