// Small SVG charts drawn here (no charting library): horizontal bars and a split bar. Each is a <figure> with a caption, an SVG marked as an image with a text
// summary, and the values on the bars themselves (no reliance on colour alone).

import { h, s } from './dom.js';

const BAR = '#2c7fb8';
const WIDTH = 320;

/** Horizontal bars: `items` are {key, label, value, note}; `fmt` formats a value, `share`
 * (value, item) its share. */
export function barChart({ id, title, items, fmt, share }) {
  const rowH = 34;
  const max = Math.max(1, ...items.map((i) => i.value));
  const height = items.length * rowH + 4;
  const svgEl = s('svg', {
    viewBox: `0 0 ${WIDTH} ${height}`, width: '100%', role: 'img',
    'aria-label': `${title}: ${items.map((i) => `${i.label} ${fmt(i.value)}`).join('; ')}`,
  });
  items.forEach((item, n) => {
    const y = n * rowH;
    const w = Math.max(1, ((WIDTH - 96) * item.value) / max);
    svgEl.append(
      s('text', { x: 0, y: y + 12, class: 'chart-label' }, truncate(item.label, 52)),
      s('rect', { x: 0, y: y + 17, width: w, height: 11, rx: 2, fill: BAR, 'data-key': item.key, 'data-value': item.value },
        s('title', {}, `${item.label}: ${fmt(item.value)}`)),
      s('text', { x: w + 4, y: y + 27, class: 'chart-value' }, share ? `${fmt(item.value)} · ${share(item.value, item)}` : fmt(item.value)),
    );
  });
  return figure(id, title, svgEl);
}

/** One bar split in two parts: `parts` are {key, label, value, color}. */
export function splitBar({ id, title, parts, fmt }) {
  const total = parts.reduce((a, p) => a + p.value, 0) || 1;
  const svgEl = s('svg', {
    viewBox: `0 0 ${WIDTH} 58`, width: '100%', role: 'img',
    'aria-label': `${title}: ${parts.map((p) => `${p.label} ${fmt(p.value / total)}`).join('; ')}`,
  });
  let x = 0;
  parts.forEach((p, i) => {
    const w = (WIDTH * p.value) / total;
    svgEl.append(s('rect', { x, y: 0, width: w, height: 22, fill: p.color, 'data-key': p.key, 'data-value': p.value },
      s('title', {}, `${p.label}: ${fmt(p.value / total)}`)));
    const anchor = i === 0 ? 'start' : 'end';
    svgEl.append(s('text', { x: i === 0 ? 0 : WIDTH, y: 40, 'text-anchor': anchor, class: 'chart-label' }, p.label),
      s('text', { x: i === 0 ? 0 : WIDTH, y: 55, 'text-anchor': anchor, class: 'chart-value' }, fmt(p.value / total)));
    x += w;
  });
  return figure(id, title, svgEl);
}

function figure(id, title, svgEl) {
  return h('figure', { class: 'chart', 'data-chart': id }, h('figcaption', {}, title), svgEl);
}

function truncate(text, n) {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}
