#!/usr/bin/env node
// Benchmark (not a test): the map's first visit on a slow-4G profile, in Chromium, as a
// policymaker on a phone or a laptop would load it. Network throttled through the DevTools
// protocol (150 ms round trip, 1.6 Mbps down, 750 kbps up), CPU slowed 4×, cache disabled,
// fresh profile every run. Measures, from navigation start:
//   interactive  the page's `dyaspora:interactive` mark (controls built, map draggable)
//   hexagons     the `dyaspora:first-layer` mark (the first hexagons drawn): target ≤ 2.5 s
//   tiles        every basemap tile of the first view loaded
// and the bytes transferred. Prints a Markdown table and writes tests/web/out/bench-slow4g.json.
//
//   node scripts/bench-slow4g.mjs [runs=5] [cold]
//   cold: a new server for every visit, so the first layer is computed for that visit (the
//   first visitor after a start or a release); otherwise one unthrottled visit warms it first
//   DYASPORA_BASE=http://127.0.0.1:8080 node scripts/bench-slow4g.mjs   # a running server
//   DYASPORA_BIN=target/release/dyaspora node scripts/bench-slow4g.mjs  # this binary
// (needs scripts/setup-web.sh; starts the debug binary of CARGO_TARGET_DIR by default, with
// 50,000 demo records, like the browser tests).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, launch, idle, ROOT } from '../tests/web/harness.mjs';

const RUNS = Number(process.argv[2] ?? 5);
const COLD = process.argv.includes('cold');
const PROFILE = { latency: 150, downloadThroughput: (1.6e6 / 8) | 0, uploadThroughput: (750e3 / 8) | 0, cpu: 4 };
const VIEWPORTS = {
  phone: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 3 },
  desktop: { viewport: { width: 1440, height: 900 } },
};

async function visit(base, options) {
  const b = await launch(base, options);
  try {
    const p = await b.page();
    await p.goto('about:blank');
    await p.waitForTimeout(300);
    const cdp = await b.ctx.newCDPSession(p);
    await cdp.send('Network.enable');
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: PROFILE.latency,
      downloadThroughput: PROFILE.downloadThroughput,
      uploadThroughput: PROFILE.uploadThroughput,
    });
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: PROFILE.cpu });
    let bytes = 0;
    const byPath = {};
    const urls = new Map();
    cdp.on('Network.requestWillBeSent', (e) => urls.set(e.requestId, e.request.url));
    cdp.on('Network.loadingFinished', (e) => {
      bytes += e.encodedDataLength;
      const u = urls.get(e.requestId);
      if (u?.startsWith('http')) {
        const k = new URL(u).pathname.replace(/^\/tiles\/basemap\/.*/, 'basemap tiles').replace(/^\/assets\/.*/, 'js+css');
        byPath[k] = (byPath[k] ?? 0) + e.encodedDataLength;
      }
    });
    await p.goto(`${base}/`, { timeout: 120_000 });
    await p.waitForFunction(() => performance.getEntriesByName('dyaspora:first-layer').length > 0, null, { timeout: 120_000 });
    await idle(p, 120_000);
    await p.waitForFunction(() => [...document.querySelectorAll('img.leaflet-tile')].every((i) => i.complete), null, { timeout: 120_000 });
    const tilesAt = await p.evaluate(() => performance.now());
    const marks = await p.evaluate(() => {
      const m = (n) => performance.getEntriesByName(n)[0]?.startTime ?? null;
      // When each API request started, got its first byte and ended (what the first layer waits on).
      const api = performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/')).map((e) => ({
        url: new URL(e.name).pathname, start: Math.round(e.startTime), ttfb: Math.round(e.responseStart), end: Math.round(e.responseEnd),
      }));
      return { interactive: m('dyaspora:interactive'), hexagons: m('dyaspora:first-layer'), api };
    });
    const errors = [...b.errors, ...b.external];
    if (errors.length) throw new Error(errors.join('\n'));
    if (process.env.VERBOSE) console.log(JSON.stringify({ hexagons: Math.round(marks.hexagons), api: marks.api }));
    return { ...marks, tiles: tilesAt, bytes, byPath };
  } finally {
    await b.close();
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const shared = COLD ? null : process.env.DYASPORA_BASE
  ? { base: process.env.DYASPORA_BASE, stop: async () => {} }
  : await startServer({ records: 50000 });
const server = shared ?? { stop: async () => {} };
try {
  // One unthrottled visit warms the server (layer and tile caches), as a visitor before ours would.
  if (shared) await visit(shared.base, VIEWPORTS.desktop).catch(() => null);
  const results = {};
  for (const [name, options] of Object.entries(VIEWPORTS)) {
    const runs = [];
    for (let i = 0; i < RUNS; i++) {
      const s = shared ?? (await startServer({ records: 50000 }));
      try {
        runs.push(await visit(s.base, options));
      } finally {
        if (!shared) await s.stop();
      }
    }
    results[name] = {
      interactive_ms: Math.round(median(runs.map((r) => r.interactive))),
      hexagons_ms: Math.round(median(runs.map((r) => r.hexagons))),
      tiles_ms: Math.round(median(runs.map((r) => r.tiles))),
      bytes: median(runs.map((r) => r.bytes)),
      by_path: runs[Math.floor(runs.length / 2)].byPath,
      runs: runs.map((r) => Math.round(r.hexagons)),
    };
  }
  const out = { profile: PROFILE, runs: RUNS, server: COLD ? 'cold' : 'warm', records: 50000, load_average: os.loadavg().map((x) => Math.round(x * 100) / 100), results };
  fs.mkdirSync(path.join(ROOT, 'tests/web/out'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'tests/web/out/bench-slow4g.json'), `${JSON.stringify(out, null, 2)}\n`);
  console.log('| viewport | interactive | hexagons drawn | basemap tiles | transferred | hexagons, every run (ms) |');
  console.log('|---|---|---|---|---|---|');
  for (const [name, r] of Object.entries(results)) {
    console.log(`| ${name} | ${(r.interactive_ms / 1000).toFixed(2)} s | **${(r.hexagons_ms / 1000).toFixed(2)} s** | ${(r.tiles_ms / 1000).toFixed(2)} s | ${Math.round(r.bytes / 1024)} KB | ${r.runs.join(', ')} |`);
  }
  console.log(`\nload average ${out.load_average.join(' ')}; details in tests/web/out/bench-slow4g${COLD ? '-cold' : ''}.json`);
  for (const [name, r] of Object.entries(results)) console.log(name, JSON.stringify(r.by_path));
} finally {
  await server.stop();
}
