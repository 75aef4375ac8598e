#!/usr/bin/env node
// Builds web/src/cities.json, the place names the web map writes over the basemap, from
// the GeoNames ZIP centroids of geodata/zips.csv (CC BY 4.0; see README.md): every place
// that names at least two ZIP codes, at the mean of their centroids, with the zoom from
// which its name shows (the more ZIP codes, the bigger the place, the earlier it shows).
// Rows: [name, lat, lon, minZoom], biggest first. Run: node geodata/cities.mjs

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const rows = fs.readFileSync(path.join(HERE, 'zips.csv'), 'utf8').trim().split('\n').slice(1);
const places = new Map();
for (const row of rows) {
  // zip,lat,lon,city,state,county_fips,county_name (no quoted commas in this file)
  const [, lat, lon, city, state] = row.split(',');
  const key = `${city}|${state}`;
  const p = places.get(key) ?? { city, n: 0, lat: 0, lon: 0 };
  p.n += 1;
  p.lat += Number(lat);
  p.lon += Number(lon);
  places.set(key, p);
}
/** ZIP codes a place names → the zoom from which its name shows. */
const zoomOf = (n) => (n >= 50 ? 5 : n >= 20 ? 6 : n >= 8 ? 7 : n >= 4 ? 8 : 9);
const out = [...places.values()]
  .filter((p) => p.n >= 2)
  .sort((a, b) => b.n - a.n || a.city.localeCompare(b.city))
  .map((p) => [p.city, Math.round((p.lat / p.n) * 1000) / 1000, Math.round((p.lon / p.n) * 1000) / 1000, zoomOf(p.n)]);
const file = path.join(HERE, '../web/src/cities.json');
fs.writeFileSync(file, `${JSON.stringify(out)}\n`);
console.log(`wrote ${out.length} places to ${path.relative(process.cwd(), file)}`);
