// Outreach mode for consulates: choose a post, see its catchment (the published hexagons it
// serves), its top gap areas (many people, no association near) with the associations
// nearest to each, and export the plan (`/api/v1/outreach/plan/{post}` as CSV or GeoJSON).

import L from './global-l.js';
import { getJSON, isAbort, qs } from './api.js';
import { h, fill, select } from './dom.js';
import { t, labelled, codeLabel } from './i18n.js';
import { fmtInt, fmtPercent } from './format.js';
import { filterParams } from './state.js';
import { placeIcon, placePopup } from './places.js';

/** Hexagon resolution of the plan (about 36 km² cells: a neighbourhood to hold an event in). */
export const OUTREACH_RES = 6;

const CATCHMENT = '#5e3c99';
const GAP = '#e66101';

export class Outreach {
  constructor(app, el) {
    this.app = app;
    this.el = el;
    this.map = app.map;
    this.map.createPane('outreach').style.zIndex = 450;
    this.layer = L.featureGroup([], { pane: 'outreach' });
    this.plan = null;
    this.catchment = null;
  }

  params() {
    const s = this.app.state;
    return { res: OUTREACH_RES, mode: s.mode, target: s.target, ...filterParams(s) };
  }

  render() {
    const s = this.app.state;
    const posts = this.app.places.postFeatures();
    this.body = h('div', { class: 'outreach-body', 'aria-live': 'polite' });
    fill(this.el,
      h('h2', {}, t('out_title')),
      h('p', { class: 'note' }, t('out_intro')),
      select('out-post', t('out_post'),
        [['', t('out_choose')], ...posts.map((f) => [f.properties.id, `${f.properties.city}, ${f.properties.state}: ${f.properties.name}`])],
        s.post, (v) => this.app.update({ post: v })),
      select('out-mode', t('out_mode'),
        [['nearest', t('out_mode_nearest')], ['jurisdiction', t('out_mode_jurisdiction')]],
        s.mode, (v) => this.app.update({ mode: v })),
      select('out-target', t('out_focus'),
        [['count', t('out_focus_all')], ['female', t('out_focus_women')]],
        s.target, (v) => this.app.update({ target: v })),
      this.body);
    if (!this.app.places.available) fill(this.body, h('p', { class: 'empty' }, t('out_unavailable')));
    else if (this.plan) this.draw();
  }

  /** Shows the layer only while the outreach tab is open with a post chosen. */
  sync() {
    const on = Boolean(this.app.state.tab === 'outreach' && this.app.state.post);
    // The thematic layer stays as context, faded under the plan.
    this.map.getContainer().classList.toggle('outreach-on', on);
    if (on && !this.map.hasLayer(this.layer)) this.layer.addTo(this.map);
    if (!on && this.map.hasLayer(this.layer)) this.map.removeLayer(this.layer);
  }

  async refresh() {
    this.sync();
    const s = this.app.state;
    if (s.tab !== 'outreach' || !s.post) {
      if (!s.post) {
        this.plan = null;
        this.key = '';
        this.layer.clearLayers();
        if (this.body) fill(this.body);
      }
      return;
    }
    const params = this.params();
    const key = JSON.stringify([s.post, params]);
    if (key === this.key) return;
    this.key = key;
    this.controller?.abort();
    const ctl = new AbortController();
    this.controller = ctl;
    try {
      const [plan, catchments] = await Promise.all([
        getJSON(`/api/v1/outreach/plan/${encodeURIComponent(s.post)}`, { ...params, top: 10, near: 3 }, { signal: ctl.signal }),
        getJSON('/api/v1/outreach/catchments', params, { signal: ctl.signal }),
      ]);
      if (ctl.signal.aborted) return;
      this.plan = plan;
      this.catchment = catchments.features.filter((f) => f.properties.post_id === plan.post.id);
      this.drawMap(true);
      this.draw();
      this.app.emit('outreach', plan);
    } catch (e) {
      if (isAbort(e)) return;
      this.key = '';
      if (e.status === 404) {
        this.plan = null;
        fill(this.body, h('p', { class: 'empty' }, t('out_unavailable')));
      } else this.app.error(e);
    }
  }

  drawMap(fit) {
    this.layer.clearLayers();
    const catchment = L.geoJSON({ type: 'FeatureCollection', features: this.catchment }, {
      pane: 'outreach',
      interactive: false,
      style: { color: CATCHMENT, weight: 1.2, opacity: 0.9, fillColor: CATCHMENT, fillOpacity: 0.15 },
    });
    this.layer.addLayer(catchment);
    for (const f of this.plan.features) {
      const p = f.properties;
      if (p.feature_type === 'gap_area') {
        const area = L.geoJSON(f, {
          pane: 'outreach',
          style: { color: GAP, weight: 3, opacity: 1, fillColor: GAP, fillOpacity: 0.35 },
        }).bindPopup(() => this.gapPopup(p));
        this.layer.addLayer(area);
        this.layer.addLayer(L.marker([p.lat, p.lon], {
          pane: 'outreach',
          icon: L.divIcon({ className: 'rank', html: String(p.rank), iconSize: [22, 22], iconAnchor: [11, 11] }),
          title: `${t('out_gaps')} ${p.rank}`,
          keyboard: true,
        }).bindPopup(() => this.gapPopup(p)));
      } else {
        const [lng, lat] = f.geometry.coordinates;
        this.layer.addLayer(L.marker([lat, lng], { icon: placeIcon(p.kind), title: p.name, keyboard: true })
          .bindPopup(() => placePopup(f)));
      }
    }
    if (fit) {
      const b = catchment.getBounds();
      if (b.isValid()) this.map.fitBounds(b, { padding: [20, 20], maxZoom: 9 });
    }
  }

  gapPopup(p) {
    return h('div', { class: 'popup' },
      h('h3', {}, `${t('out_gaps')} ${p.rank}`),
      h('dl', {},
        h('dt', {}, t('p_count')), h('dd', {}, p.count === null ? t('suppressed') : fmtInt(p.count)),
        h('dt', {}, t('p_female_share')), h('dd', {}, p.female_share === null ? t('suppressed') : fmtPercent(p.female_share)),
        h('dt', {}, t('out_score')), h('dd', {}, fmtInt(p.score))),
      this.assocList(p.associations));
  }

  assocList(list) {
    if (!list?.length) return null;
    return h('div', {},
      h('p', { class: 'label' }, labelled(t('out_nearest_assoc')).trim()),
      h('ul', { class: 'assocs' }, list.map((a) => h('li', {}, `${a.name} (${a.city}, ${a.state}) · ${t('out_km', { d: fmtInt(a.distance_km) })}`))));
  }

  draw() {
    const plan = this.plan;
    const fig = plan.post_figures ?? {};
    const gaps = plan.features.filter((f) => f.properties.feature_type === 'gap_area');
    const link = (format) => `/api/v1/outreach/plan/${encodeURIComponent(plan.post.id)}?${qs({ ...this.params(), top: 10, near: 3, format, download: 1 })}`;
    const swatch = (cls) => h('span', { class: `key-swatch ${cls}`, 'aria-hidden': 'true' });
    fill(this.body,
      h('section', { class: 'catchment', 'data-post': plan.post.id },
        h('h3', {}, labelled(t('out_catchment')), plan.post.name),
        h('p', {}, fig.count === null || fig.count === undefined ? t('suppressed') : t('out_people', { n: fmtInt(fig.count) })),
        fig.female_share ? h('p', {}, labelled(t('ins_women')), fmtPercent(fig.female_share), fig.incomplete?.includes('female') ? ' *' : '') : null,
        h('ul', { class: 'key' },
          h('li', {}, swatch('catchment'), t('out_catchment')),
          h('li', {}, swatch('gap'), t('out_gaps')),
          h('li', {}, swatch('pin-assoc'), t('associations')))),
      h('section', { class: 'export' },
        h('h3', {}, t('out_export')),
        h('p', { class: 'buttons' },
          h('a', { class: 'button', href: link('csv'), download: '', 'data-download': 'plan-csv' }, t('out_export_csv')),
          h('a', { class: 'button', href: link('geojson'), download: '', 'data-download': 'plan-geojson' }, t('out_export_json')))),
      h('section', { class: 'gaps' },
        h('h3', {}, t('out_gaps')),
        h('p', { class: 'note' }, t('out_gap_hint')),
        gaps.length === 0 ? h('p', { class: 'empty' }, t('out_none')) : h('ol', { class: 'gap-list' }, gaps.map((f) => {
          const p = f.properties;
          return h('li', { 'data-rank': p.rank },
            h('button', {
              type: 'button', class: 'linklike',
              onclick: () => this.map.setView([p.lat, p.lon], Math.max(this.map.getZoom(), 10)),
            }, p.count === null ? t('suppressed') : `${fmtInt(p.count)} ${t('p_count').toLowerCase()}`),
            ' · ', labelled(t('out_nearest_label')), p.nearest_km === null ? '–' : t('out_km', { d: fmtInt(p.nearest_km) }),
            this.assocList(p.associations));
        }))),
      h('section', { class: 'skills' },
        top(fig.top_occupations, 'occupation', t('ins_occupations')),
        top(fig.top_sectors, 'sector', t('ins_sectors')),
        fig.incomplete?.length ? h('p', { class: 'note' }, `* ${t('ins_incomplete')}`) : null));
  }
}

/** "Top occupations: Services and sales (3,171), …" from a post's published figures. */
function top(list, codes, title) {
  if (!list?.length) return null;
  return h('p', {}, labelled(title), list.slice(0, 3).map((x) => `${codeLabel(codes, x.code)} (${fmtInt(x.count)})`).join(', '));
}
