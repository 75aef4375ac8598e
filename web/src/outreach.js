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
        [['', t('out_choose')], ...posts.map((f) => [f.properties.id, postLabel(this.app.postName(f.properties), f.properties)])],
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
    const gaps = this.plan.features.filter((f) => f.properties.feature_type === 'gap_area');
    for (const f of this.plan.features) {
      const p = f.properties;
      if (p.feature_type === 'gap_area') {
        this.layer.addLayer(L.geoJSON(f, {
          pane: 'outreach',
          style: { color: GAP, weight: 3, opacity: 1, fillColor: GAP, fillOpacity: 0.35 },
        }).bindPopup(() => this.gapPopup(p)));
      } else {
        const [lng, lat] = f.geometry.coordinates;
        this.layer.addLayer(L.marker([lat, lng], { icon: placeIcon(p.kind), title: p.name, keyboard: true })
          .bindPopup(() => placePopup(f)));
      }
    }
    // Rank markers last, the lowest rank added first and drawn under the others: rank 1 is
    // always on top; markers that would overlap are moved apart (declutter, on every zoom).
    this.ranks = [...gaps].sort((a, b) => b.properties.rank - a.properties.rank).map((f) => {
      const p = f.properties;
      const marker = L.marker([p.lat, p.lon], {
        pane: 'outreach',
        icon: rankIcon(p.rank, [0, 0]),
        title: `${t('out_gaps')} ${p.rank}${p.name ? ` · ${p.name}` : ''}`,
        keyboard: true,
        zIndexOffset: 1000 * (gaps.length - p.rank + 1),
      }).bindPopup(() => this.gapPopup(p));
      marker.rank = p.rank;
      this.layer.addLayer(marker);
      return marker;
    });
    if (!this.declutterBound) {
      this.declutterBound = true;
      this.map.on('zoomend', () => this.declutter());
    }
    if (fit) {
      const b = catchment.getBounds();
      if (b.isValid()) this.map.fitBounds(b, { ...this.padding(), maxZoom: 9 });
    }
    this.declutter();
  }

  /** Padding that keeps what is fitted clear of the legend (and of the open sheet on a phone). */
  padding() {
    const legend = this.app.data.legendEl?.getBoundingClientRect();
    const sheet = this.sheetHeight();
    return {
      paddingTopLeft: [20, 20],
      paddingBottomRight: [20 + (legend?.width ?? 0), 20 + Math.max(sheet, legend?.height ?? 0)],
    };
  }

  /** Height of the panel over the map (a phone's open bottom sheet), else 0. */
  sheetHeight() {
    if (!document.body.classList.contains('panel-open')) return 0;
    const panel = document.getElementById('panel')?.getBoundingClientRect();
    const map = this.map.getContainer().getBoundingClientRect();
    if (!panel || panel.top <= map.top || panel.left > map.left + 1) return 0;
    return Math.max(0, map.bottom - panel.top);
  }

  /** Moves rank markers apart where they would overlap at this zoom, rank 1 staying put. */
  declutter() {
    if (!this.ranks?.length || !this.map.hasLayer(this.layer)) return;
    const placed = [];
    for (const m of [...this.ranks].sort((a, b) => a.rank - b.rank)) {
      const p = this.map.latLngToLayerPoint(m.getLatLng());
      let offset = [0, 0];
      for (let step = 0; step < 24; step++) {
        const angle = (step * Math.PI) / 4 - Math.PI / 4;
        const r = step === 0 ? 0 : 24 * Math.ceil(step / 8);
        const o = step === 0 ? [0, 0] : [Math.round(r * Math.cos(angle)), Math.round(r * Math.sin(angle))];
        if (placed.every((q) => Math.hypot(p.x + o[0] - q[0], p.y + o[1] - q[1]) >= 24)) {
          offset = o;
          break;
        }
      }
      placed.push([p.x + offset[0], p.y + offset[1]]);
      m.setIcon(rankIcon(m.rank, offset));
    }
  }

  /** Shows a gap area: centred in the part of the map the sheet (on a phone) leaves visible. */
  goTo(p) {
    const zoom = Math.max(this.map.getZoom(), 10);
    const sheet = this.sheetHeight();
    const point = this.map.project([p.lat, p.lon], zoom).add([0, sheet / 2]);
    this.map.setView(this.map.unproject(point, zoom), zoom);
  }

  /** "1,234 respondents" or, reaching women, "612 women": the value the gap is ranked by. */
  valueText(p) {
    const women = this.app.state.target === 'female';
    const v = women ? p.value : p.count;
    if (v === null || v === undefined) return t('suppressed');
    return t(women ? 'out_value_female' : 'out_value_count', { n: fmtInt(v) });
  }

  gapPopup(p) {
    return h('div', { class: 'popup' },
      h('h3', {}, `${p.rank}. ${p.name || t('out_gaps')}`),
      h('dl', {},
        h('dt', {}, t('p_count')), h('dd', {}, p.count === null ? t('suppressed') : fmtInt(p.count)),
        this.app.state.target === 'female' ? [h('dt', {}, t('out_focus_women')), h('dd', {}, p.value === null ? t('suppressed') : fmtInt(p.value))] : null,
        h('dt', {}, t('p_female_share')), h('dd', {}, p.female_share === null ? t('suppressed') : fmtPercent(p.female_share)),
        h('dt', { title: t('out_score_help') }, t('out_score')), h('dd', {}, fmtInt(p.score))),
      h('p', { class: 'note' }, t('out_score_help')),
      this.assocList(p.associations));
  }

  assocList(list) {
    if (!list?.length) return null;
    const women = this.app.state.target === 'female';
    return h('div', {},
      h('p', { class: 'label' }, labelled(t(women ? 'out_nearest_assoc_women' : 'out_nearest_assoc')).trim()),
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
        h('h3', {}, labelled(t('out_catchment')), this.app.postName(this.app.places.postFeatures().find((f) => f.properties.id === plan.post.id)?.properties ?? plan.post)),
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
        h('p', { class: 'note score-help' }, t('out_score_help')),
        gaps.length === 0 ? h('p', { class: 'empty' }, t('out_none')) : h('ol', { class: 'gap-list' }, gaps.map((f) => {
          const p = f.properties;
          const women = this.app.state.target === 'female';
          return h('li', { 'data-rank': p.rank },
            h('button', {
              type: 'button', class: 'linklike gap-place',
              'aria-label': t('out_go', { place: p.name || String(p.rank) }),
              onclick: () => this.goTo(p),
            }, p.name || `${t('out_gaps')} ${p.rank}`),
            h('br'),
            h('span', { class: 'gap-value' }, this.valueText(p)),
            ' · ', labelled(t(women ? 'out_nearest_label_women' : 'out_nearest_label')), p.nearest_km === null ? '–' : t('out_km', { d: fmtInt(p.nearest_km) }),
            ' · ', h('span', { title: t('out_score_help') }, labelled(t('out_score')), fmtInt(p.score)),
            this.assocList(p.associations));
        }))),
      h('section', { class: 'skills' },
        top(fig.top_occupations, 'occupation', t('ins_occupations')),
        top(fig.top_sectors, 'sector', t('ins_sectors')),
        fig.incomplete?.length ? h('p', { class: 'note' }, `* ${t('ins_incomplete')}`) : null));
  }
}

/** "Consulat général d’Haïti à Miami (FL)": the city is in the name, or in the brackets. */
function postLabel(name, p) {
  return name.includes(p.city) ? `${name} (${p.state})` : `${name} (${p.city}, ${p.state})`;
}

/** A rank marker, drawn `offset` pixels away from its area's centre. */
function rankIcon(rank, offset) {
  return L.divIcon({ className: 'rank', html: String(rank), iconSize: [22, 22], iconAnchor: [11 - offset[0], 11 - offset[1]] });
}

/** "Top occupations: Services and sales (3,171), …" from a post's published figures. */
function top(list, codes, title) {
  if (!list?.length) return null;
  return h('p', {}, labelled(title), list.slice(0, 3).map((x) => `${codeLabel(codes, x.code)} (${fmtInt(x.count)})`).join(', '));
}
