// The insights panel: the current view (or the whole country) and filters as charts.
//
// Privacy: only published figures are used. "The map view" adds up the published values of
// the areas in view (each is 0 or at least k, so a non-zero sum is too); a value suppressed
// in some area is left out of its sum, and of the base of its share, and the chart says so.
// "The whole United States" shows
// the national totals the server publishes under the same rules.

import { getJSON, isAbort } from './api.js';
import { h, fill } from './dom.js';
import { t, codeList, codeLabel } from './i18n.js';
import { fmtInt, fmtPercent, fmtUsd } from './format.js';
import { filterParams } from './state.js';
import { resForZoom } from './layers.js';
import { bboxParam } from './datalayer.js';
import { barChart, splitBar } from './charts.js';

const SUMMED = /^(count|female|remitters|female_remitters|remit_total_usd|(occupation|sector|need|difficulty|willingness|channel|language)_.+)$/;

/**
 * Adds up the published values of the units; returns the sums, what was incomplete, and for
 * each figure the respondents of the units that publish it (`bases`): a share is a figure
 * over its own base, so that units hiding the figure do not pull it down (women over all
 * respondents counted women's hidden areas as having none).
 */
export function sumPublished(features) {
  const sums = {};
  const bases = {};
  const incomplete = new Set();
  let areas = 0;
  for (const f of features) {
    const p = f.properties;
    if (p.count === null || p.count === undefined) continue;
    if (p.count === 0) continue;
    areas += 1;
    for (const [k, v] of Object.entries(p)) {
      if (!SUMMED.test(k)) continue;
      if (v === null) incomplete.add(k);
      else {
        sums[k] = (sums[k] ?? 0) + v;
        bases[k] = (bases[k] ?? 0) + p.count;
      }
    }
  }
  return { sums, bases, incomplete, areas };
}

export class Insights {
  constructor(app, el) {
    this.app = app;
    this.el = el;
    this.data = null;
  }

  render() {
    const s = this.app.state;
    const scopes = ['view', 'nation'];
    this.body = h('div', { class: 'insights-body', 'aria-live': 'polite' });
    fill(this.el,
      h('h2', {}, t('ins_title')),
      h('fieldset', { class: 'scope' },
        h('legend', {}, t('ins_scope')),
        scopes.map((sc) => h('label', { class: 'radio' },
          h('input', {
            type: 'radio', name: 'scope', value: sc, checked: s.scope === sc,
            onchange: () => this.app.update({ scope: sc }),
          }),
          t(`ins_scope_${sc}`)))),
      this.body);
    if (this.data) this.draw();
  }

  params() {
    const s = this.app.state;
    const base = { metric: 'count', metrics: 'all', ...filterParams(s) };
    if (s.scope === 'nation') return { unit: 'state', ...base };
    const map = this.app.map;
    const unit = s.unit === 'state' || s.unit === 'county' ? s.unit : 'h3';
    const p = { unit, ...base, bbox: bboxParam(map.getBounds()) };
    if (unit === 'h3') p.res = resForZoom(map.getZoom());
    return p;
  }

  async refresh() {
    if (this.app.state.tab !== 'insights') return;
    const params = this.params();
    const key = JSON.stringify(params);
    if (key === this.key) return;
    this.key = key;
    this.controller?.abort();
    const ctl = new AbortController();
    this.controller = ctl;
    try {
      const fc = await getJSON('/api/v1/aggregates', params, { signal: ctl.signal });
      if (ctl.signal.aborted) return;
      this.data = { fc, scope: this.app.state.scope };
      this.draw();
      this.app.emit('insights', this.data);
    } catch (e) {
      if (!isAbort(e)) {
        this.key = '';
        this.app.error(e);
      }
    }
  }

  draw() {
    const { fc, scope } = this.data;
    let v;
    let bases = {};
    let incomplete;
    let note;
    if (scope === 'nation') {
      v = fc.totals;
      incomplete = new Set(fc.totals.suppressed);
      note = t('ins_nation_note');
    } else {
      const r = sumPublished(fc.features);
      v = r.sums;
      bases = r.bases;
      incomplete = r.incomplete;
      note = t('ins_areas', { n: fmtInt(r.areas) });
    }
    const n = v.count ?? 0;
    // A figure's base: the respondents of the units that publish it (nationally, all).
    const base = (key) => bases[key] ?? n;
    if (!n) {
      fill(this.body, h('p', { class: 'empty' }, t('ins_none')));
      return;
    }
    const star = (key) => (incomplete.has(key) ? ' *' : '');
    const kpis = [
      ['ins_respondents', fmtInt(n) + star('count')],
      ['ins_women', v.female === null || v.female === undefined ? t('suppressed') : fmtPercent(v.female / base('female')) + star('female')],
      ['ins_remitting', v.remitters === null || v.remitters === undefined ? t('suppressed') : fmtPercent(v.remitters / base('remitters')) + star('remitters')],
      ['ins_remit_total', v.remit_total_usd === null || v.remit_total_usd === undefined ? t('suppressed') : fmtUsd(v.remit_total_usd, true) + star('remit_total_usd')],
    ];
    if (scope === 'nation') {
      kpis.push(['ins_remit_mean', v.remit_mean_usd === null ? t('suppressed') : fmtUsd(v.remit_mean_usd)]);
      kpis.push(['ins_remit_median', v.remit_median_usd === null ? t('suppressed') : fmtUsd(v.remit_median_usd)]);
    }
    const group = (list, top) => {
      const items = codeList(list)
        .map((c) => ({ key: c.code, figure: `${list}_${c.code}`, label: codeLabel(list, c.code) + star(`${list}_${c.code}`), value: v[`${list}_${c.code}`] ?? 0 }))
        .filter((i) => i.value > 0)
        .sort((a, b) => b.value - a.value);
      return top ? items.slice(0, top) : items;
    };
    const share = (x, item) => fmtPercent(x / base(item.figure), 0);
    const charts = [];
    if (v.female !== null && v.female !== undefined) {
      charts.push(splitBar({
        id: 'gender',
        title: t('ins_gender'),
        parts: [
          { key: 'female', label: t('ins_women_bar'), value: v.female, color: '#5e3c99' },
          { key: 'others', label: t('ins_others_bar'), value: base('female') - v.female, color: '#e66101' },
        ],
        fmt: (x) => fmtPercent(x),
      }));
    }
    charts.push(barChart({ id: 'occupations', title: t('ins_occupations'), items: group('occupation', 6), fmt: fmtInt, share }));
    charts.push(barChart({ id: 'sectors', title: t('ins_sectors'), items: group('sector', 6), fmt: fmtInt, share }));
    charts.push(barChart({ id: 'needs', title: t('ins_needs'), items: group('need'), fmt: fmtInt, share }));
    charts.push(barChart({ id: 'willingness', title: t('ins_willingness'), items: group('willingness'), fmt: fmtInt, share }));
    charts.push(barChart({ id: 'channels', title: t('ins_channels'), items: group('channel', 6), fmt: fmtInt, share }));
    fill(this.body,
      h('dl', { class: 'kpis' }, kpis.map(([k, val]) => h('div', { class: 'kpi', 'data-kpi': k }, h('dt', {}, t(k)), h('dd', {}, val)))),
      h('p', { class: 'note' }, note),
      charts,
      incomplete.size ? h('p', { class: 'note' }, `* ${t('ins_incomplete')}`) : null,
      h('p', { class: 'note' }, t('ins_suppressed_rule', { k: fc.privacy.min_count })));
  }
}
