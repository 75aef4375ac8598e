// Test harness: starts the real dyaspora binary on a free loopback port with a fresh
// database of demo records, and Debian's chromium (driven by playwright-core) with a fresh
// profile, every request outside the server's origin blocked and recorded.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
/**
 * The strictest policy the page must live with: nothing from outside the origin, no inline
 * script or style, no eval. Added to every page the tests load; a violation is a console
 * error, so every test fails on it.
 */
export const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** The debug binary, built if missing (`DYASPORA_BIN` overrides). */
export function binary() {
  const bin = process.env.DYASPORA_BIN || path.join(process.env.CARGO_TARGET_DIR || path.join(ROOT, 'target'), 'debug/dyaspora');
  if (!fs.existsSync(bin)) {
    const r = spawnSync('cargo', ['build', '--bin', 'dyaspora'], { cwd: ROOT, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('cargo build --bin dyaspora failed');
  }
  if (!fs.existsSync(path.join(ROOT, 'web/dist/index.html'))) {
    throw new Error('web/dist is not built: run scripts/setup-web.sh');
  }
  return bin;
}

/** Starts `dyaspora serve` and waits for /health/ready. */
export async function startServer({ records = 50000 } = {}) {
  const bin = binary();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dyaspora-web-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(bin, ['--db', path.join(dir, 't.db'), 'serve', '--addr', `127.0.0.1:${port}`, '--demo-records', String(records)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' },
  });
  let log = '';
  child.stderr.on('data', (d) => {
    log = (log + d).slice(-20000);
  });
  let exited = null;
  child.on('exit', (code) => {
    exited = code;
  });
  const deadline = Date.now() + 300_000;
  for (;;) {
    if (exited !== null) throw new Error(`dyaspora exited with ${exited}:\n${log}`);
    try {
      const r = await fetch(`${base}/health/ready`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`dyaspora did not answer /health/ready in time:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    base,
    log: () => log,
    async stop() {
      if (exited === null) {
        const done = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([done, new Promise((r) => setTimeout(r, 10_000))]);
        if (exited === null) child.kill('SIGKILL');
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A browser with a fresh profile. Every page's console errors, uncaught exceptions and
 * requests outside `base` are collected (the latter are aborted).
 */
export async function launch(base, options = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'dyaspora-chromium-'));
  const downloads = fs.mkdtempSync(path.join(os.tmpdir(), 'dyaspora-downloads-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    acceptDownloads: true,
    downloadsPath: downloads,
    viewport: { width: 1280, height: 800 },
    ...options,
  });
  const errors = [];
  const external = [];
  const origin = new URL(base).origin;
  await ctx.route('**/*', async (route) => {
    const request = route.request();
    const url = request.url();
    if (!url.startsWith(`${origin}/`)) {
      if (url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
      external.push(url);
      return route.abort();
    }
    if (request.resourceType() !== 'document') return route.continue();
    const response = await route.fetch();
    return route.fulfill({ response, headers: { ...response.headers(), 'content-security-policy': CSP } });
  });
  const watch = (page) => {
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()} (${m.location()?.url ?? ''})`);
    });
    page.on('pageerror', (e) => errors.push(`exception: ${e.message}`));
  };
  ctx.pages().forEach(watch);
  ctx.on('page', watch);
  return {
    ctx,
    errors,
    external,
    async page() {
      return ctx.pages()[0] ?? ctx.newPage();
    },
    async close() {
      await ctx.close();
      fs.rmSync(profile, { recursive: true, force: true });
      fs.rmSync(downloads, { recursive: true, force: true });
    },
  };
}

/** Waits until the app is built and no API request is in flight. */
export async function idle(page, timeout = 60_000) {
  await page.waitForFunction(
    () => document.documentElement.dataset.ready === '1' && document.documentElement.dataset.loading === '0',
    null,
    { timeout },
  );
  // Leaflet finishes drawing on the next frames.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}

/** Saves a download and returns its bytes and suggested name. */
export async function downloadOf(page, click) {
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), click()]);
  const file = await dl.path();
  return { name: dl.suggestedFilename(), bytes: fs.readFileSync(file) };
}

/** Width and height of a PNG, or null when the bytes are not a PNG. */
export function pngSize(bytes) {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length < 24 || !sig.every((b, i) => bytes[i] === b)) return null;
  if (bytes.toString('ascii', 12, 16) !== 'IHDR') return null;
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}
