// What the map shows, on the map itself (a phone with its sheet closed shows nothing else):
// the title (the measure and the active filters), the headline (respondents in view and in
// the US, and those of the view in areas too small to show) and the caption (source, survey
// period, sample size). The PNG export and the downloads take the same texts from here.

import L from './global-l.js';
import { h, fill } from './dom.js';
import { t } from './i18n.js';
import { fmtInt, fmtMetric, fmtMonth } from './format.js';
import { about } from './inview.js';

/** The texts of the view: `{title, filters, headline, hidden, caption}` (strings or ''). */
export function mapTexts(app) {
  const d = app.data;
  const s = app.state;
  const texts = { title: app.measureTitle(), filters: app.filterSummary(), headline: '', hidden: '', caption: '' };
  if (d.fc) {
    const nation = d.fc.totals?.count;
    const parts = [];
    if (d.view) parts.push(t('headline_view', { n: fmtInt(d.view.n) }));
    if (nation !== null && nation !== undefined) parts.push(t('headline_nation', { n: fmtInt(nation) }));
    const m = d.fc.classification.metric;
    const national = d.fc.totals?.[m];
    if (m.endsWith('_share') && national !== null && national !== undefined) parts.push(t('headline_share', { m: app.measureTitle(), v: fmtMetric(m, national) }));
    texts.headline = parts.join(' · ');
    if (d.hidden && d.hidden.hidden >= (d.fc.privacy?.min_count ?? 11) && s.unit !== 'state' && s.unit !== 'county') {
      texts.hidden = t('hidden_in_view', { n: fmtInt(about(d.hidden.hidden)) });
    }
  }
  texts.caption = caption(app);
  return texts;
}

/** "Source: dyaspora survey (2025-R1, 2026-R2), February 2025 – November 2026 · 50,000 respondents in all". */
export function caption(app) {
  const m = app.meta;
  if (!m) return t('caption_short');
  const months = m.rounds.flatMap((r) => [r.first_month, r.last_month]).filter(Boolean).sort();
  return t('caption', {
    rounds: m.rounds.map((r) => r.name).join(', '),
    from: fmtMonth(months[0]),
    to: fmtMonth(months[months.length - 1]),
    n: m.records === null || m.records === undefined ? t('suppressed') : fmtInt(m.records),
  });
}

export class MapTitle {
  constructor(app) {
    this.app = app;
    const Box = L.Control.extend({
      options: { position: 'topright' },
      onAdd: () => {
        const el = L.DomUtil.create('section', 'map-title map-box');
        el.setAttribute('aria-live', 'polite');
        L.DomEvent.disableClickPropagation(el);
        return el;
      },
    });
    this.box = new Box().addTo(app.map);
    this.el = this.box.getContainer();
    // Bottom right, above the attribution: on a phone the wrapped attribution covers
    // anything beside it.
    const Caption = L.Control.extend({
      options: { position: 'bottomright' },
      onAdd: () => L.DomUtil.create('p', 'map-caption'),
    });
    this.captionControl = new Caption().addTo(app.map);
    this.captionEl = this.captionControl.getContainer();
  }

  update() {
    const before = this.el.offsetHeight;
    const x = mapTexts(this.app);
    // The demo flag heads the title (under the zoom buttons it collided with the title on a phone).
    fill(this.el,
      this.app.isDemo() ? h('p', { class: 'demo-flag' }, t('demo_flag')) : null,
      h('h2', { class: 'map-title-text' }, x.title),
      h('p', { class: 'map-filters' }, x.filters),
      x.headline ? h('p', { class: 'headline' }, x.headline) : null,
      x.hidden ? h('p', { class: 'hidden-note' }, x.hidden) : null);
    this.captionEl.textContent = x.caption;
    // Place names keep clear of the box: place them again when it grew or shrank.
    if (this.el.offsetHeight !== before) this.app.labels?.render();
  }
}
