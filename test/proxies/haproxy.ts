/**
 * Debian's HAProxy for the proxy tests: whether it is installed, and one
 * started on a free port with a configuration the test writes (given the
 * path of the certificate file), its stderr piped (the tests that log read
 * it there). `stop()` kills it and removes its files.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../realtime/broker/redis-server.js';
import { listening } from './listening.js';

export const HAPROXY = '/usr/sbin/haproxy';

/** True when HAProxy runs here, and why not otherwise. */
export function haproxyStatus(): { available: boolean; reason: string } {
  const probe = spawnSync(HAPROXY, ['-v'], { encoding: 'utf8' });
  return { available: probe.status === 0, reason: `${HAPROXY} not found (apt-get install haproxy)` };
}

export interface RunningHaproxy {
  /** The port its front end listens on (127.0.0.1). */
  readonly port: number;
  readonly process: ChildProcess;
  stop(): void;
}

/** Starts HAProxy with `config(front, pem)`: the front end's port and the certificate-and-key file to bind it with. */
export async function startHaproxy(certificate: { cert: Buffer; key: Buffer }, config: (front: number, pem: string) => string): Promise<RunningHaproxy> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-haproxy-'));
  const pem = join(dir, 'site.pem');
  writeFileSync(pem, Buffer.concat([certificate.cert, certificate.key]));
  writeFileSync(join(dir, 'haproxy.cfg'), config(port, pem));
  const child = spawn(HAPROXY, ['-db', '-f', join(dir, 'haproxy.cfg')], { stdio: ['ignore', 'ignore', 'pipe'] });
  const stop = (): void => {
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await listening(port);
  } catch (error) {
    stop();
    throw error;
  }
  return { port, process: child, stop };
}
