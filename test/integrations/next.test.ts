// examples/integrations/next (docs/integrations.md, Next.js) through real
// sockets: `next build`, then the custom server in production mode. Besides
// the suite every integration passes (Next's route handlers set the session
// cookie and issue the real-time token; WebSocket upgrades reach /rt after
// Next attached its own upgrade listener on its first request), the page
// server-renders switchboard/react's initial state, and in Chromium it
// connects with the session and shows the user in the presence list.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { chromiumStatus, launchChromium, requirePeer } from '../interop/peers.js';
import { describeIntegration } from './harness.js';

const run = promisify(execFile);
const dir = 'examples/integrations/next';
const env = { NODE_ENV: 'production', NEXT_TELEMETRY_DISABLED: '1' };
const status = chromiumStatus();
const peer = requirePeer('Chromium', status.available, status.reason);

describeIntegration('next', {
  example: `${dir}/server.ts`,
  env,
  startTimeout: 90_000,
  prepareTimeout: 240_000,
  prepare: async () => {
    await run(process.execPath, ['../../../node_modules/next/dist/bin/next', 'build'], { cwd: dir, env: { ...process.env, ...env }, timeout: 240_000 });
  },
  more: (app) => {
    it('server-renders the page with the hooks in their initial state (nothing connects on the server)', async () => {
      const html = await (await fetch(`${app().origin}/`)).text();
      assert.match(html, /<p id="live">disconnected<!-- --> · <!-- -->unsubscribed<!-- --> · here: <!-- -->nobody<\/p>/);
    });

    describe('in Chromium', () => {
      let browser: Browser | undefined;
      before(async () => {
        if (!peer.skip) browser = await launchChromium();
      });
      after(async () => {
        await browser?.close();
      });

      it('connects from the page with the session cookie, and shows the user present', peer, async () => {
        const page = await browser!.newPage();
        await page.goto(`${app().origin}/`);
        await page.evaluate(() => fetch('/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'grace' }) }));
        await page.reload();
        await page.waitForFunction(() => document.getElementById('live')?.textContent === 'connected · subscribed · here: grace', undefined, { timeout: 15_000 });
        await page.close();
      });
    });
  },
});
