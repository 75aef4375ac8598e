// The methodology panel: how and when the records were collected and how many, how the
// sample compares with published population figures by state, the privacy rules, and the
// attribution of every data source.

import { getJSON, getText, parseCsv } from './api.js';
import { h, fill } from './dom.js';
import { t } from './i18n.js';
import { fmtInt, fmtPercent, fmtMonth } from './format.js';
import { ACS_2022_HAITI_BORN } from './reference.js';

export class About {
  constructor(app, el) {
    this.app = app;
    this.el = el;
    this.meta = null;
    this.states = null;
  }

  async load() {
    if (this.meta) return;
    try {
      const [meta, csv] = await Promise.all([
        getJSON('/api/v1/methodology'),
        getText('/api/v1/aggregates', { unit: 'state', metric: 'count', format: 'csv' }),
      ]);
      const rows = parseCsv(csv);
      const head = rows[0];
      const col = (name) => head.indexOf(name);
      // Row 2 is the HXL hashtag row.
      this.states = rows.slice(2).filter((r) => r.length === head.length).map((r) => ({
        fips: r[col('id')], name: r[col('name')], count: r[col('count')] === '' ? null : Number(r[col('count')]),
      }));
      this.meta = meta;
      this.render();
    } catch (e) {
      this.app.error(e);
    }
  }

  refreshIfShown() {
    if (this.app.state.tab === 'about') this.render();
  }

  render() {
    const k = this.app.k ?? this.meta?.min_count ?? 11;
    fill(this.el,
      h('h2', {}, t('about_title')),
      h('h3', {}, t('about_how_h')),
      h('p', {}, t('about_how')),
      h('h3', {}, t('about_when_h')),
      this.meta ? this.when() : h('p', {}, t('loading')),
      this.app.places.isDemo() ? h('p', { class: 'warning' }, t('about_demo')) : null,
      h('h3', {}, t('about_sample_h')),
      h('p', {}, t('about_sample')),
      this.states ? this.comparison() : null,
      h('h3', {}, t('about_privacy_h')),
      h('p', {}, t('about_privacy', { k1: k - 1 })),
      this.meta?.perturbation ? this.noise() : null,
      h('p', {}, t('about_h3')),
      h('h3', {}, t('about_sources_h')),
      h('ul', { class: 'sources' },
        ['src_census', 'src_ne', 'src_geonames', 'src_codes', 'src_leaflet'].map((key) => h('li', {}, t(key)))),
      h('p', {}, h('a', { href: '/ogc' }, t('api_link'))));
    if (!this.meta && this.app.state.tab === 'about') this.load();
  }

  noise() {
    const p = this.meta.perturbation;
    const pct = (x) => fmtPercent(x);
    return [
      h('p', { 'data-noise-max': p.max }, t('about_noise', {
        d: p.max,
        never: p.never.length ? p.never.join(t('or')) : '—',
        tot: pct(p.total_share),
        med: pct(p.median_share),
      })),
      h('p', {}, t('about_release', { days: Math.round(p.release_interval_hours / 24), id: this.meta.release })),
    ];
  }

  when() {
    const m = this.meta;
    return h('div', {},
      h('p', { 'data-records': m.records ?? '' }, t('about_total', { n: m.records === null ? t('suppressed') : fmtInt(m.records), v: m.data_version })),
      h('p', { class: 'label' }, t('about_rounds')),
      h('ul', {}, m.rounds.map((r) => h('li', {}, t('about_round_row', {
        name: r.name,
        n: r.count === null ? t('suppressed') : fmtInt(r.count),
        from: fmtMonth(r.first_month),
        to: fmtMonth(r.last_month),
      })))));
  }

  comparison() {
    const total = this.meta.records || 1;
    const ref = ACS_2022_HAITI_BORN;
    const rows = ref.states.map((r) => {
      const st = this.states.find((x) => x.fips === r.fips);
      const n = st?.count;
      return h('tr', {},
        h('th', { scope: 'row' }, st?.name ?? r.name),
        h('td', {}, n === null || n === undefined ? t('suppressed') : fmtPercent(n / total)),
        h('td', {}, fmtPercent(r.value / ref.total)));
    });
    return h('div', { class: 'table-wrap' },
      h('table', { class: 'compare' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('about_state')), h('th', { scope: 'col' }, t('about_sample_share')), h('th', { scope: 'col' }, t('about_census_share')))),
        h('tbody', {}, rows)),
      h('p', { class: 'note' }, t('about_census_note', { n: fmtInt(ref.total) })));
  }
}
