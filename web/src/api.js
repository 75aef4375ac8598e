// Requests to the dyaspora API (same origin only). The number of requests in flight is
// kept on <html data-loading>, which the browser tests wait on.

let inflight = 0;

function busy(delta) {
  inflight += delta;
  document.documentElement.dataset.loading = String(inflight);
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
  }
}

/** `?a=1&b=2` from an object, leaving out empty values. */
export function qs(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== '' && v !== null && v !== undefined) q.set(k, String(v));
  }
  return q.toString();
}

export async function getJSON(path, params = {}, { signal } = {}) {
  const query = qs(params);
  busy(1);
  try {
    const r = await fetch(query ? `${path}?${query}` : path, { signal, headers: { Accept: 'application/json, application/geo+json' } });
    if (!r.ok) {
      let detail = '';
      try {
        detail = (await r.json()).detail;
      } catch {
        // not a problem+json body
      }
      throw new ApiError(r.status, detail);
    }
    return await r.json();
  } finally {
    busy(-1);
  }
}

export async function getText(path, params = {}) {
  busy(1);
  try {
    const r = await fetch(`${path}?${qs(params)}`);
    if (!r.ok) throw new ApiError(r.status, r.statusText);
    return await r.text();
  } finally {
    busy(-1);
  }
}

export function isAbort(e) {
  return e && e.name === 'AbortError';
}

/** Parses CSV (RFC 4180: quotes, doubled quotes, CRLF) into rows of strings. */
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}
