// What the map shows, on the map itself (a phone with its sheet closed shows nothing else):
// the title (the measure and the active filters), the headline (respondents in view and in
// the US, and those of the view in areas too small to show) and the caption (source, survey
// period, sample size). The PNG export and the downloads take the same texts from here.
// On a phone the title box is one line (the demo badge, the measure and how many filters,
// with a button that unfolds the filters and the figures): unfolded it covered a fifth of
// the map.

import L from './global-l.js';
import { h, fill } from './dom.js';
import { t } from './i18n.js';
import { fmtInt, fmtMetric, fmtMonth } from './format.js';
import { about } from './inview.js';
import { FILTER_KEYS } from './state.js';

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
    // Hexagons: parents minus children in view; counties: the states in view minus their
    // counties; states: the nation minus its states (inview.js, PRIVACY.md).
    if (d.hidden && d.hidden.hidden >= (d.fc.privacy?.min_count ?? 11)) {
      const key = { state: 'hidden_states', county: 'hidden_counties' }[d.hidden.kind] ?? 'hidden_in_view';
      texts.hidden = t(key, { n: fmtInt(about(d.hidden.hidden)) });
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

/** How many filters are active (a period counts once). */
export function filterCount(state) {
  const keys = FILTER_KEYS.filter((k) => state[k] && k !== 'to');
  return keys.length + (state.to && !state.from ? 1 : 0);
}

export class MapTitle {
  constructor(app) {
    this.app = app;
    this.expanded = false;
    const Box = L.Control.extend({
      options: { position: 'topright' },
      onAdd: () => {
        const el = L.DomUtil.create('section', 'map-title map-box');
        L.DomEvent.disableClickPropagation(el);
        return el;
      },
    });
    this.box = new Box().addTo(app.map);
    this.el = this.box.getContainer();
    // Built once, then only their texts change: the toggle keeps its focus.
    this.badge = h('span', { class: 'demo-badge' });
    this.titleText = h('h2', { class: 'map-title-text' });
    this.count = h('span', { class: 'map-title-count' });
    this.toggle = h('button', {
      type: 'button', class: 'map-title-toggle', 'aria-controls': 'map-title-more', 'aria-expanded': 'false',
      onclick: () => this.setExpanded(!this.expanded),
    });
    this.more = h('div', { class: 'map-title-more', id: 'map-title-more', 'aria-live': 'polite' });
    fill(this.el, h('div', { class: 'map-title-head' }, this.badge, this.titleText, this.count, this.toggle), this.more);
    // Bottom right, above the attribution: on a phone the wrapped attribution covers
    // anything beside it.
    const Caption = L.Control.extend({
      options: { position: 'bottomright' },
      onAdd: () => L.DomUtil.create('p', 'map-caption'),
    });
    this.captionControl = new Caption().addTo(app.map);
    this.captionEl = this.captionControl.getContainer();
  }

  /** Unfolds (or folds) the filters and figures; on a desktop they are always shown. */
  setExpanded(on) {
    this.expanded = on;
    this.update();
  }

  update() {
    const before = this.el.offsetHeight;
    const x = mapTexts(this.app);
    const demo = this.app.isDemo();
    const n = filterCount(this.app.state);
    this.el.classList.toggle('expanded', this.expanded);
    this.badge.textContent = demo ? t('demo_badge') : '';
    this.badge.hidden = !demo;
    if (demo) this.badge.setAttribute('title', t('demo_flag'));
    this.titleText.textContent = x.title;
    this.count.textContent = n ? t('title_filters', { n }) : t('title_no_filter');
    this.toggle.textContent = this.expanded ? '▴' : '▾';
    this.toggle.setAttribute('aria-expanded', String(this.expanded));
    this.toggle.setAttribute('aria-label', t(this.expanded ? 'title_less' : 'title_more'));
    this.toggle.setAttribute('title', t(this.expanded ? 'title_less' : 'title_more'));
    // The demo flag heads the details (under the zoom buttons it collided with the title on a phone).
    fill(this.more,
      demo ? h('p', { class: 'demo-flag' }, t('demo_flag')) : null,
      h('p', { class: 'map-filters' }, x.filters),
      x.headline ? h('p', { class: 'headline' }, x.headline) : null,
      x.hidden ? h('p', { class: 'hidden-note' }, x.hidden) : null);
    this.captionEl.textContent = x.caption;
    // Place names keep clear of the box: place them again when it grew or shrank.
    if (this.el.offsetHeight !== before) this.app.labels?.render();
  }
}
