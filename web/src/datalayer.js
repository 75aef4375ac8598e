// The thematic layer: hexagons (resolution follows the zoom), states or counties from
// `GET /api/v1/aggregates`, coloured by the server's classification, with the legend, the
// hover info box, click popups and keyboard access to the figures at the map's centre.

import L from './global-l.js';
import { getJSON, isAbort } from './api.js';
import { layerParams, measure, resForZoom } from './layers.js';
import { filterParams } from './state.js';
import { t, codeLabel, labelled } from './i18n.js';
import { fmtMetric } from './format.js';
import { h, fill } from './dom.js';
import { contains } from './geometry.js';
import { renderLegend } from './legend.js';
import { box, countInView, hiddenCounties, hiddenInView, hiddenStates } from './inview.js';

/** `w,s,e,n` of Leaflet bounds, clamped to valid degrees and rounded (better cache hits). */
export function bboxParam(bounds) {
  const c = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  const r = (v) => Math.round(v * 100) / 100;
  return [
    r(c(bounds.getWest(), -180, 180)), r(c(bounds.getSouth(), -90, 90)),
    r(c(bounds.getEast(), -180, 180)), r(c(bounds.getNorth(), -90, 90)),
  ].join(',');
}

/** Fill opacity of the areas (the PNG export draws them the same way). */
export const FILL_OPACITY = 0.88;

/** Properties shown in a popup, after the layer's own measure. */
const POPUP_FIGURES = [
  'count', 'density_km2', 'female_share', 'remit_share', 'remit_mean_usd', 'remit_median_usd', 'remit_total_usd',
  'skill_count', 'skill_share', 'skill_lq', 'dominant_occupation', 'dominant_sector',
];

export class DataLayer {
  constructor(app) {
    this.app = app;
    this.map = app.map;
    this.fc = null;
    this.key = '';
    this.geo = L.geoJSON(null, {
      style: (f) => this.style(f),
      onEachFeature: (f, layer) => this.bind(f, layer),
    }).addTo(this.map);
    this.legend = new (L.Control.extend({
      options: { position: 'bottomright' },
      onAdd: () => {
        this.legendEl = L.DomUtil.create('section', 'legend map-box');
        this.legendEl.setAttribute('aria-live', 'polite');
        L.DomEvent.disableClickPropagation(this.legendEl);
        L.DomEvent.disableScrollPropagation(this.legendEl);
        return this.legendEl;
      },
    }))().addTo(this.map);
    this.info = new (L.Control.extend({
      options: { position: 'topright' },
      onAdd: () => {
        this.infoEl = L.DomUtil.create('section', 'info map-box');
        this.infoEl.setAttribute('aria-live', 'polite');
        return this.infoEl;
      },
    }))().addTo(this.map);
    this.map.getContainer().addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && e.target === this.map.getContainer()) {
        e.preventDefault();
        this.openAt(this.map.getCenter());
      }
    });
    this.showInfo(null);
  }

  /** The aggregates query of the current state and view (also used by the downloads). */
  params({ bbox = true } = {}) {
    const s = this.app.state;
    const unit = s.unit === 'state' || s.unit === 'county' ? s.unit : 'h3';
    const p = { unit, ...layerParams(s), ...filterParams(s) };
    if (unit === 'h3') p.res = resForZoom(this.map.getZoom());
    if (bbox && unit !== 'state') p.bbox = bboxParam(this.map.getBounds().pad(0.25));
    return p;
  }

  async refresh(force = false) {
    const params = this.params();
    const key = JSON.stringify(params);
    if (!force && key === this.key) {
      this.measureView();
      return;
    }
    this.key = key;
    this.controller?.abort();
    const ctl = new AbortController();
    this.controller = ctl;
    // The coarser hexagons, published as well, tell how many people of the view are in
    // hexagons too small to show (inview.js): asked for once the layer is drawn, so that a
    // server computing both does not delay the first hexagons (slow-4G benchmark).
    const parents = this.parentParams(params);
    try {
      const fc = await getJSON('/api/v1/aggregates', params, { signal: ctl.signal });
      if (ctl.signal.aborted) return;
      this.fc = fc;
      this.unit = params.unit;
      this.fetched = params.bbox ? params.bbox.split(',').map(Number) : [-180, -90, 180, 90];
      this.parents = null;
      this.hidden = null;
      this.draw();
      this.measureView();
      this.app.emit('layer', fc);
      if (parents) {
        // Without it the map is the same, less one sentence: a failure here is not the layer's.
        const p = await getJSON('/api/v1/aggregates', parents, { signal: ctl.signal }).catch((e) => {
          if (!isAbort(e)) console.warn(e);
          return null;
        });
        if (ctl.signal.aborted || !p) return;
        this.parents = p;
        this.measureView();
        this.app.emit('hidden', this.hidden);
      }
    } catch (e) {
      if (!isAbort(e)) {
        this.key = '';
        this.app.error(e);
      }
    }
  }

  /**
   * The published layer whose units contain this one's, for hidden counts: hexagons two
   * resolutions coarser, or the states of counties (states need none: their parent is the
   * nation, whose total comes with the layer).
   */
  parentParams(params) {
    if (params.unit === 'county') return { ...params, unit: 'state', bbox: undefined, metric: 'count', metrics: undefined, skill: undefined };
    if (params.unit !== 'h3' || params.res <= 2) return null;
    return { ...params, res: Math.max(2, params.res - 2), metric: 'count', metrics: undefined, skill: undefined };
  }

  /** Respondents in view and in hidden areas of the view, from the published layers. */
  measureView() {
    if (!this.fc) return;
    const view = box(this.map.getBounds());
    this.view = countInView(this.fc.features, view);
    if (this.unit === 'state') this.hidden = hiddenStates(this.fc);
    else if (!this.parents) this.hidden = null;
    else if (this.unit === 'county') this.hidden = hiddenCounties(this.fc.features, this.parents.features, this.fetched, view);
    else this.hidden = hiddenInView(this.fc.features, this.parents.features, view);
    this.app.title?.update();
  }

  draw() {
    // A popup open on a unit stays open when the same unit is drawn again: opening it pans
    // the map, the pan refreshes the data, and closing it then would undo the user's tap.
    const open = this.openUnit;
    this.map.closePopup();
    this.geo.clearLayers();
    this.geo.addData(this.fc);
    if (open) this.reopen(open);
    this.renderLegend();
    this.showInfo(null);
    document.documentElement.dataset.features = String(this.fc.features.length);
    if (!this.drawn) {
      this.drawn = true;
      performance.mark('dyaspora:first-layer');
    }
  }

  /** Re-renders the texts (language change) without fetching. */
  relabel() {
    if (this.fc) this.renderLegend();
    this.showInfo(null);
  }

  renderLegend() {
    if (!this.legendEl || !this.fc) return;
    const empty = !this.fc.features.some((f) => f.properties.class !== null && f.properties.class !== undefined);
    const m = this.fc.classification.metric;
    renderLegend(this.legendEl, {
      title: this.app.measureTitle(),
      classification: this.fc.classification,
      k: this.fc.privacy.min_count,
      empty,
      suppressed: this.drawsSuppressed(),
      national: this.fc.totals?.[m] ?? null,
    });
  }

  /** Whether some drawn area is grey (its value suppressed): only then does the legend say so. */
  drawsSuppressed() {
    return Boolean(this.fc?.features.some((f) => f.properties.class === null || f.properties.class === undefined));
  }

  fillOf(f) {
    const c = this.fc.classification;
    const cls = f.properties.class;
    return cls === null || cls === undefined ? c.suppressed_color : c.colors[cls];
  }

  style(f) {
    const hex = this.unit === 'h3';
    // 0.88: every class stands out from the land at 1.5:1 or more as drawn (classify.rs: the
    // diverging layers' middle class is a soft green, 1.75:1); the outline (3.9:1 against
    // the land) marks every area as well.
    return {
      fillColor: this.fillOf(f),
      fillOpacity: FILL_OPACITY,
      color: hex ? '#5a5a5a' : '#4d4d4d',
      weight: hex ? 0.7 : 0.8,
      opacity: 0.8,
    };
  }

  bind(f, layer) {
    layer.on({
      mouseover: () => {
        layer.setStyle({ weight: 2.5, color: '#000000', opacity: 1 });
        layer.bringToFront();
        this.showInfo(f);
      },
      mouseout: () => {
        this.geo.resetStyle(layer);
        this.showInfo(null);
      },
    });
    layer.bindPopup(() => this.popup(f), { maxWidth: 300, autoPanPadding: [12, 12] });
    layer.on('popupopen', (e) => {
      this.openUnit = { id: f.properties.id, latlng: e.popup.getLatLng() };
    });
    layer.on('popupclose', () => {
      if (this.openUnit?.id === f.properties.id) this.openUnit = null;
    });
  }

  /** Opens the popup of unit `open.id` again where it was, without panning, if it is drawn. */
  reopen(open) {
    this.geo.eachLayer((layer) => {
      if (layer.feature?.properties.id !== open.id) return;
      const popup = layer.getPopup();
      popup.options.autoPan = false;
      layer.openPopup(open.latlng);
      popup.options.autoPan = true;
    });
  }

  title(f) {
    const p = f.properties;
    if (this.unit === 'h3') return p.name && p.name !== p.id ? t('near_place', { place: p.name }) : `${t('hexagon')} ${p.id}`;
    return p.name;
  }

  showInfo(f) {
    if (!this.infoEl) return;
    if (!f) {
      fill(this.infoEl, h('p', { class: 'hint' }, t('hover_hint')));
      return;
    }
    const m = measure(this.app.state);
    fill(this.infoEl,
      h('h2', {}, this.title(f)),
      h('p', {}, h('span', { class: 'label' }, labelled(this.app.measureTitle())), h('strong', {}, value(m, f.properties[m]))),
      h('p', {}, h('span', { class: 'label' }, labelled(t('p_count'))), value('count', f.properties.count)));
  }

  popup(f) {
    const p = f.properties;
    const m = measure(this.app.state);
    const names = [m, ...POPUP_FIGURES.filter((x) => x !== m && x in p)];
    const rows = names.map((name) => {
      const label = name === m ? this.app.measureTitle() : t(`p_${name}`);
      let v;
      if (name === 'dominant_occupation') v = p[name] === null ? t('suppressed') : codeLabel('occupation', p[name]);
      else if (name === 'dominant_sector') v = p[name] === null ? t('suppressed') : codeLabel('sector', p[name]);
      else v = value(name, p[name]);
      return [h('dt', { class: name === m ? 'main' : '' }, label), h('dd', { class: name === m ? 'main' : '' }, v)];
    });
    const k = this.fc.privacy.min_count;
    const anySuppressed = names.some((n) => p[n] === null);
    return h('div', { class: 'popup' },
      h('h3', {}, this.title(f)),
      h('dl', {}, rows),
      anySuppressed ? h('p', { class: 'note' }, t('suppressed_note', { k })) : null);
  }

  /** Opens the popup of the unit under `latlng` (keyboard users: the map's centre). */
  openAt(latlng) {
    if (!this.fc) return;
    const f = this.fc.features.find((x) => contains(x.geometry, latlng.lng, latlng.lat));
    if (!f) {
      L.popup().setLatLng(latlng).setContent(t('legend_empty')).openOn(this.map);
      return;
    }
    this.showInfo(f);
    L.popup({ maxWidth: 300 }).setLatLng(latlng).setContent(this.popup(f)).openOn(this.map);
  }
}

/** A figure, or the word for "suppressed" marked so that it cannot be read as a number. */
function value(metric, v) {
  if (v === null || v === undefined) return h('span', { class: 'suppressed', title: t('legend_suppressed') }, t('suppressed'));
  return fmtMetric(metric, v);
}
