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

/** Rows of the legend: [colour, label] from highest class to lowest, then suppressed. */
export function legendRows(c, k, empty) {
  const labels = classLabels(c);
  const rows = c.colors.map((color, i) => [color, labels[i] || t('legend_empty')]).reverse();
  if (empty) return [[c.suppressed_color, t('legend_empty')]];
  rows.push([c.suppressed_color, `${t('legend_suppressed')} (< ${k})`]);
  return rows;
}

export function renderLegend(el, { title, classification, k, empty }) {
  const c = classification;
  fill(el,
    h('h2', { class: 'legend-title' }, title),
    h('ul', { class: 'legend-rows' },
      legendRows(c, k, empty).map(([color, label], i, all) =>
        h('li', { class: i === all.length - 1 && !empty ? 'legend-row suppressed' : 'legend-row' },
          swatch(color), h('span', {}, label)))),
    h('p', { class: 'legend-note' }, t(c.method === 'fixed' ? 'legend_method_fixed' : 'legend_method_quantile')),
  );
}

function swatch(color) {
  const el = h('span', { class: 'swatch', 'aria-hidden': 'true' });
  el.style.background = color;
  return el;
}
