// The legend, drawn from the `classification` the server sent with the layer: the same
// breaks and colours as the features, never recomputed here.

import { h, fill } from './dom.js';
import { t } from './i18n.js';
import { fmtMetric } from './format.js';

/** Labels of the classes: "< b0", "b0 – b1", …, "≥ bn". */
export function classLabels(c) {
  const f = (v) => fmtMetric(c.metric, v, true);
  const b = c.breaks;
  if (b.length === 0) return [c.colors.length ? '' : t('legend_empty')];
  return c.colors.map((_, i) => {
    if (i === 0) return `< ${f(b[0])}`;
    if (i === b.length) return `≥ ${f(b[b.length - 1])}`;
    return `${f(b[i - 1])} – ${f(b[i])}`;
  });
}

/**
 * Rows of the legend: [colour, label] from highest class to lowest, then "suppressed" when
 * some area on the map is drawn grey (a hexagon whose count is hidden is not drawn at all,
 * so on a count layer there is no grey to explain). The middle class of a diverging layer
 * says that it is the national value.
 */
export function legendRows(c, k, empty, suppressed = true) {
  const labels = classLabels(c);
  if (c.method === 'diverging' && labels.length === 5) labels[2] = `${labels[2]} (${t('legend_like_us')})`;
  const rows = c.colors.map((color, i) => [color, labels[i] || t('legend_empty')]).reverse();
  if (empty) return [[c.suppressed_color, t('legend_empty')]];
  if (suppressed) rows.push([c.suppressed_color, `${t('legend_suppressed')} (< ${k})`]);
  return rows;
}

/** The legend's note on how the classes were made. */
export function legendNote(c, national) {
  if (c.method === 'diverging') return t('legend_method_diverging', { v: national === null || national === undefined ? '?' : fmtMetric(c.metric, national) });
  return t(c.method === 'fixed' ? 'legend_method_fixed' : 'legend_method_quantile');
}

export function renderLegend(el, { title, classification, k, empty, suppressed = true, national = null }) {
  const c = classification;
  const rows = legendRows(c, k, empty, suppressed);
  fill(el,
    h('h2', { class: 'legend-title' }, title),
    h('ul', { class: 'legend-rows' },
      rows.map(([color, label], i, all) =>
        h('li', { class: i === all.length - 1 && !empty && suppressed ? 'legend-row suppressed' : 'legend-row' },
          swatch(color), h('span', {}, label)))),
    h('p', { class: 'legend-note' }, legendNote(c, national)),
  );
}

function swatch(color) {
  const el = h('span', { class: 'swatch', 'aria-hidden': 'true' });
  el.style.background = color;
  return el;
}
