// The view's state, mirrored in the URL's query string so that any view (language, layer,
// filters, position, open panel, outreach post) can be shared as a link.

export const FILTER_KEYS = ['gender', 'age_band', 'occupation', 'sector', 'need', 'department', 'from', 'to'];

/** Every key with its default; a key at its default is left out of the URL. */
export const DEFAULTS = {
  lang: '',
  layer: 'density',
  m: '', // measure (metric) of the layer; '' = the layer's first
  skill: 'occupation:2',
  code: '', // need / willingness / channel code of the group layers; '' = the list's first
  unit: 'h3',
  posts: '1',
  assoc: '0',
  tab: 'map',
  scope: 'view',
  post: '',
  mode: 'nearest',
  target: 'count',
  z: '',
  lat: '',
  lng: '',
  ...Object.fromEntries(FILTER_KEYS.map((k) => [k, ''])),
};

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

export function readState(search = window.location.search) {
  const q = new URLSearchParams(search);
  const state = { ...DEFAULTS };
  for (const k of Object.keys(DEFAULTS)) {
    const v = q.get(k);
    if (v !== null) state[k] = v.slice(0, 64);
  }
  for (const k of ['from', 'to']) if (state[k] && !MONTH.test(state[k])) state[k] = '';
  return state;
}

export function writeState(state) {
  const q = new URLSearchParams();
  for (const [k, def] of Object.entries(DEFAULTS)) {
    if (state[k] !== undefined && state[k] !== def) q.set(k, state[k]);
  }
  const url = `${window.location.pathname}?${q.toString()}`;
  window.history.replaceState(null, '', url);
}

/** The active filters as query parameters of the API. */
export function filterParams(state) {
  const p = {};
  for (const k of FILTER_KEYS) if (state[k]) p[k] = state[k];
  return p;
}
