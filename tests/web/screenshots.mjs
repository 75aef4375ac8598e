// Takes the screenshots of the main views shown in the README (docs/screenshots/*.png),
// from the real binary with 50,000 demo records. Run: `npm run screenshots` in tests/web/.
// `DYASPORA_BASE=http://127.0.0.1:8080` reuses a running server instead of starting one.

import fs from 'node:fs';
import path from 'node:path';
import { startServer, launch, idle, downloadOf, ROOT } from './harness.mjs';

const OUT = path.join(ROOT, 'docs/screenshots');

const DESKTOP = [
  { file: 'map-density.png', query: '?lang=en' },
  { file: 'map-remittances-states.png', query: '?lang=fr&layer=remit&m=remit_mean_usd&unit=state&z=5&lat=36.5&lng=-80' },
  { file: 'map-skills-health.png', query: '?lang=en&layer=skills&m=skill_share&skill=sector:Q&z=7&lat=27.4&lng=-81.4&assoc=1' },
  { file: 'insights.png', query: '?lang=ht&tab=insights&scope=nation&z=5&lat=33&lng=-78' },
  { file: 'outreach-miami.png', query: '?lang=en&tab=outreach&post=HT-CON-MIA&posts=1' },
  { file: 'methodology.png', query: '?lang=fr&tab=about' },
  { file: 'map-miami-street.png', query: '?lang=en&z=12&lat=25.83&lng=-80.2' },
  { file: 'map-miami-beach-z13.png', query: '?lang=en&z=13&lat=25.795&lng=-80.145' },
];

/** Phone screenshots (390×844): [file, query, open the sheet, unfold the title]. */
const PHONE = [
  ['phone-map.png', '?lang=ht&layer=gender&z=7&lat=27.3&lng=-81.2', false],
  ['phone-map-fr.png', '?lang=fr&z=10&lat=40.68&lng=-73.93', false, true],
  ['phone-miami-beach-z13.png', '?lang=en&z=13&lat=25.795&lng=-80.145', false],
  ['phone-panel.png', '?lang=en', true],
  ['phone-outreach.png', '?lang=fr&tab=outreach&post=HT-CON-MIA&target=female', true],
];

async function settle(page) {
  await idle(page);
  await page.waitForFunction(() => [...document.querySelectorAll('img.leaflet-tile')].every((i) => i.complete));
  await page.waitForTimeout(600);
  await idle(page);
}

const server = process.env.DYASPORA_BASE ? { base: process.env.DYASPORA_BASE, stop: async () => {} } : await startServer({ records: 50000 });
fs.mkdirSync(OUT, { recursive: true });
try {
  const desktop = await launch(server.base, { viewport: { width: 1440, height: 900 } });
  const page = await desktop.page();
  for (const shot of DESKTOP) {
    await page.goto(`${server.base}/${shot.query}`);
    await settle(page);
    if (shot.file.startsWith('outreach')) await page.waitForSelector('.gap-list > li');
    if (shot.file.startsWith('insights')) await page.waitForSelector('[data-chart="occupations"] rect');
    if (shot.file.startsWith('methodology')) await page.waitForSelector('table.compare tbody tr');
    await settle(page);
    await page.screenshot({ path: path.join(OUT, shot.file) });
    console.log(`wrote docs/screenshots/${shot.file}`);
  }
  await page.goto(`${server.base}/?lang=en&layer=remit&m=remit_share&z=6&lat=27.8&lng=-81.5`);
  await settle(page);
  await page.click('#downloads summary');
  const png = await downloadOf(page, () => page.click('#dl-png'));
  fs.writeFileSync(path.join(OUT, 'export-brief.png'), png.bytes);
  console.log('wrote docs/screenshots/export-brief.png');
  await desktop.close();

  const phone = await launch(server.base, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  const p = await phone.page();
  for (const [file, query, sheet, unfold] of PHONE) {
    await p.goto(`${server.base}/${query}`);
    await settle(p);
    if (unfold) {
      await p.tap('.map-title-toggle');
      await settle(p);
    }
    if (sheet) {
      await p.tap('#menu-toggle');
      await p.waitForTimeout(500);
      if (query.includes('outreach')) await p.waitForSelector('.gap-list > li');
      else await p.tap('#downloads summary');
      await settle(p);
    }
    await p.screenshot({ path: path.join(OUT, file) });
    console.log(`wrote docs/screenshots/${file}`);
  }
  await phone.close();
  const problems = [...desktop.errors, ...desktop.external, ...phone.errors, ...phone.external];
  if (problems.length) {
    console.error(problems.join('\n'));
    process.exitCode = 1;
  }
} finally {
  await server.stop();
}
