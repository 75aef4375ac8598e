// What the view holds, from published figures only: the respondents of the areas in view,
// and those of the areas too small to show. PRIVACY.md: an area whose count is hidden is
// absent everywhere, so it can never be drawn; but a published parent hexagon's count minus
// the published counts of its children is the sum of its hidden children, which anyone can
// work out from the two published layers (and rule 4 makes it 0 or at least k before the
// noise). The same holds for states (the nation minus its published states) and counties (a
// published state minus its published counties). Nothing here asks the server for a figure
// it does not already publish.

import { contains, rings } from './geometry.js';

/** A point inside a unit: the mean of its outer ring's vertices (a hexagon's centre). */
export function centreOf(geometry) {
  const ring = rings(geometry)[0];
  if (!ring?.length) return null;
  const pts = ring.length > 1 && ring[0][0] === ring[ring.length - 1][0] && ring[0][1] === ring[ring.length - 1][1] ? ring.slice(0, -1) : ring;
  let x = 0;
  let y = 0;
  for (const [lon, lat] of pts) {
    x += lon;
    y += lat;
  }
  return [x / pts.length, y / pts.length];
}

/** [w, s, e, n] of a geometry. */
export function boundsOf(geometry) {
  const b = [Infinity, Infinity, -Infinity, -Infinity];
  for (const ring of rings(geometry)) {
    for (const [lon, lat] of ring) {
      if (lon < b[0]) b[0] = lon;
      if (lat < b[1]) b[1] = lat;
      if (lon > b[2]) b[2] = lon;
      if (lat > b[3]) b[3] = lat;
    }
  }
  return b;
}

const inBox = (box, [lon, lat]) => lon >= box[0] && lon <= box[2] && lat >= box[1] && lat <= box[3];

/** `[w, s, e, n]` of Leaflet bounds. */
export function box(bounds) {
  return [bounds.getWest(), bounds.getSouth(), bounds.getEast(), bounds.getNorth()];
}

/** The sum of the published counts of the units whose centre is in `view` ([w, s, e, n]). */
export function countInView(features, view) {
  let n = 0;
  let areas = 0;
  for (const f of features) {
    const c = f.properties.count;
    if (c === null || c === undefined) continue;
    const p = centreOf(f.geometry);
    if (p && inBox(view, p)) {
      n += c;
      areas += 1;
    }
  }
  return { n, areas };
}

/**
 * Respondents of the hidden hexagons in view: for each published parent hexagon wholly in
 * `view`, its count minus the published counts of its children (the hexagons of the finer
 * layer whose centre lies in it: an H3 cell's children are the cells whose centres it holds).
 * The differences carry the noise of the published figures, so they are added up over the
 * view (noise cancels; clamping each would add it up) and the total is floored at 0.
 */
export function hiddenInView(children, parents, view) {
  const kids = children
    .filter((f) => f.properties.count)
    .map((f) => ({ c: centreOf(f.geometry), n: f.properties.count }))
    .filter((k) => k.c);
  let hidden = 0;
  let covered = 0;
  for (const p of parents) {
    const count = p.properties.count;
    if (!count) continue;
    const b = boundsOf(p.geometry);
    if (!(b[0] >= view[0] && b[1] >= view[1] && b[2] <= view[2] && b[3] <= view[3])) continue;
    let shown = 0;
    for (const k of kids) {
      if (inBox(b, k.c) && contains(p.geometry, k.c[0], k.c[1])) shown += k.n;
    }
    hidden += count - shown;
    covered += 1;
  }
  return { hidden: Math.max(0, hidden), parents: covered, kind: 'h3' };
}

/**
 * Respondents of the states whose count is hidden: the published national total minus the
 * published counts of the states (every state is listed, a hidden one with a null count).
 * Rule 4 (nation → state) makes the exact difference 0 or at least k.
 */
export function hiddenStates(fc) {
  const nation = fc.totals?.count;
  if (nation === null || nation === undefined) return null;
  let shown = 0;
  for (const f of fc.features) shown += f.properties.count ?? 0;
  return { hidden: Math.max(0, nation - shown), parents: 1, kind: 'state' };
}

/**
 * Respondents of the hidden counties of the states in view: for each state with a published
 * count, whose centre is in `view` and whose extent lies inside `fetched` (the box the
 * counties were asked for, so that every published county of the state is at hand), its
 * count minus the published counts of its counties (a county's FIPS code starts with its
 * state's). Rule 4 (state → county) makes each exact difference 0 or at least k; as for
 * hexagons, the differences are added up over the view and the total floored at 0.
 */
export function hiddenCounties(counties, states, fetched, view) {
  const byState = new Map();
  for (const f of counties) {
    const c = f.properties.count;
    if (!c) continue;
    const st = String(f.properties.id).slice(0, 2);
    byState.set(st, (byState.get(st) ?? 0) + c);
  }
  let hidden = 0;
  let covered = 0;
  for (const s of states) {
    const count = s.properties.count;
    if (!count) continue;
    const b = boundsOf(s.geometry);
    if (!(b[0] >= fetched[0] && b[1] >= fetched[1] && b[2] <= fetched[2] && b[3] <= fetched[3])) continue;
    const c = centreOf(s.geometry);
    if (!c || !inBox(view, c)) continue;
    hidden += count - (byState.get(String(s.properties.id)) ?? 0);
    covered += 1;
  }
  return { hidden: Math.max(0, hidden), parents: covered, kind: 'county' };
}

/** A rounded figure for "about N": two significant digits. */
export function about(n) {
  if (n < 100) return Math.round(n);
  const m = 10 ** (Math.floor(Math.log10(n)) - 1);
  return Math.round(n / m) * m;
}
