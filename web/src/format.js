// Number formatting in the reader's language. A suppressed value (null) is never shown as 0.

import { getLang, locale, t } from './i18n.js';

const cache = new Map();
function nf(opts) {
  const key = locale() + JSON.stringify(opts);
  if (!cache.has(key)) cache.set(key, new Intl.NumberFormat(locale(), opts));
  return cache.get(key);
}

export function fmtInt(v) {
  return nf({ maximumFractionDigits: 0 }).format(v);
}

export function fmtPercent(v, digits = 1) {
  return nf({ style: 'percent', maximumFractionDigits: digits }).format(v);
}

export function fmtUsd(v, compact = false) {
  return nf({
    style: 'currency', currency: 'USD', maximumFractionDigits: 0,
    ...(compact && Math.abs(v) >= 100_000 ? { notation: 'compact', maximumFractionDigits: 1 } : {}),
  }).format(v);
}

/** A value of `metric` as a reader should see it; `compact` for legends and chart labels. */
export function fmtMetric(metric, v, compact = false) {
  if (v === null || v === undefined) return t('suppressed');
  if (metric.endsWith('_share')) return fmtPercent(v);
  if (metric.endsWith('_usd')) return fmtUsd(v, compact);
  if (metric.endsWith('_lq')) return nf({ minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(v);
  if (metric === 'density_km2') {
    return v >= 10 ? fmtInt(v) : nf({ maximumSignificantDigits: 2 }).format(v);
  }
  return fmtInt(v);
}

export function fmtArea(km2) {
  return t('area_km2', { a: km2 >= 10 ? fmtInt(km2) : nf({ maximumSignificantDigits: 2 }).format(km2) });
}

// Kreyòl month names: browsers have no Haitian Creole calendar data and fall back to French.
const HT_MONTHS = ['janvye', 'fevriye', 'mas', 'avril', 'me', 'jen', 'jiyè', 'out', 'septanm', 'oktòb', 'novanm', 'desanm'];

export function fmtDate(d) {
  if (getLang() === 'ht') return `${d.getDate()} ${HT_MONTHS[d.getMonth()]} ${d.getFullYear()}`;
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'long' }).format(d);
}

/** "2025-02" → "février 2025". */
export function fmtMonth(ym) {
  if (!ym) return '?';
  const [y, m] = ym.split('-').map(Number);
  if (getLang() === 'ht') return `${HT_MONTHS[m - 1]} ${y}`;
  return new Intl.DateTimeFormat(locale(), { month: 'long', year: 'numeric', timeZone: 'UTC' }).format(Date.UTC(y, m - 1, 1));
}
