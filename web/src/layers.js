// The thematic layers of the map and how each maps onto `GET /api/v1/aggregates`.

import { codeList } from './i18n.js';

export const LAYERS = [
  { id: 'density', measures: ['count', 'density_km2'] },
  { id: 'remit', measures: ['remit_total_usd', 'remit_mean_usd', 'remit_median_usd', 'remit_share'] },
  { id: 'skills', measures: ['skill_share', 'skill_lq'], skill: true },
  { id: 'gender', measures: ['female_share'] },
  { id: 'needs', group: 'need' },
  { id: 'willingness', group: 'willingness' },
  { id: 'channels', group: 'channel' },
];

export function layerDef(id) {
  return LAYERS.find((l) => l.id === id) ?? LAYERS[0];
}

/** The code of a group layer: the one in the state, or the list's first. */
export function groupCode(state, def) {
  const list = codeList(def.group);
  if (list.some((c) => c.code === state.code)) return state.code;
  return list[0]?.code ?? '';
}

/** The measure shown: the state's if the layer has it, else the layer's first. */
export function measure(state) {
  const def = layerDef(state.layer);
  if (def.group) return `${def.group}_${groupCode(state, def)}`;
  return def.measures.includes(state.m) ? state.m : def.measures[0];
}

/** `metric`, `metrics` and `skill` parameters of the current layer. */
export function layerParams(state) {
  const def = layerDef(state.layer);
  const p = { metric: measure(state) };
  if (def.group) p.metrics = def.group;
  if (def.skill) p.skill = state.skill;
  return p;
}

/**
 * H3 resolution by zoom: the server's one table (`hexagon_resolutions` of `GET /tiles`, the
 * table the hexagon tiles are cut with), set once at start by `setHexagonResolutions`.
 */
let resolutions = [];

/** Takes the server's table: `[{ minzoom, maxzoom, res }]`, one range per resolution. */
export function setHexagonResolutions(ranges) {
  const table = [];
  for (const { minzoom, maxzoom, res } of ranges) {
    for (let z = minzoom; z <= maxzoom; z++) table[z] = res;
  }
  resolutions = table;
}

/** H3 resolution for a Leaflet zoom (rounded, clamped to the table's zooms). */
export function resForZoom(z) {
  return resolutions[Math.max(0, Math.min(resolutions.length - 1, Math.round(z)))];
}
