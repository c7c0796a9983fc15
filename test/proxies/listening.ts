/** Waiting for a proxy the test started: it is up once it accepts TCP connections. */
import net from 'node:net';

/** Resolves once something accepts TCP connections on 127.0.0.1:`port`; rejects after `timeout` ms. */
export async function listening(port: number, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
