// dyaspora's web map: wires the state (mirrored in the URL), the Leaflet map on the offline
// basemap, the thematic layer, the places, and the four tabs (map, insights, outreach,
// methodology). Everything is fetched from the same origin.

import 'leaflet/dist/leaflet.css';
import 'leaflet.markercluster/dist/MarkerCluster.css';
import './style.css';
import L from './global-l.js';
import { h, fill, saveBlob } from './dom.js';
import { LANGS, setLang, getLang, t, setCodes, codeLabel, labelled, missingKeys } from './i18n.js';
import { readState, writeState, FILTER_KEYS } from './state.js';
import { getJSON, qs } from './api.js';
import { layerDef, groupCode, measure, setHexagonResolutions } from './layers.js';
import { DataLayer, bboxParam } from './datalayer.js';
import { Places, placeName } from './places.js';
import { Insights } from './insights.js';
import { Outreach } from './outreach.js';
import { About } from './about.js';
import { renderMapTab } from './panel.js';
import { renderPng, pngName } from './exportpng.js';
import { basemap } from './basemap.js';
import { MapTitle, mapTexts } from './maptitle.js';
import { CityLabels } from './labels.js';

const TABS = ['map', 'insights', 'outreach', 'about'];
const LAYER_KEYS = ['layer', 'm', 'skill', 'code', 'unit', ...FILTER_KEYS];
/** The contiguous United States, and the East Coast where most of the diaspora lives (phones). */
const US = [[24.5, -125], [49.5, -66.5]];
const EAST = [[25, -84], [42.8, -70.5]];

function guessLang() {
  const l = (navigator.language || 'en').slice(0, 2).toLowerCase();
  return LANGS.includes(l) ? l : 'en';
}

/** Each language in its own words (the language buttons' accessible names). */
const LANG_NAMES = { fr: 'Français', en: 'English', ht: 'Kreyòl ayisyen' };

class App {
  constructor() {
    this.state = readState();
    setLang(LANGS.includes(this.state.lang) ? this.state.lang : guessLang());
    this.state.lang = getLang();
    if (!TABS.includes(this.state.tab)) this.state.tab = 'map';
    this.events = new EventTarget();
    this.k = null;
    this.buildShell();
    this.map = L.map(this.mapEl, {
      zoomControl: false,
      minZoom: 2,
      maxZoom: 14,
      worldCopyJump: false,
      keyboard: true,
    });
    this.map.attributionControl.setPrefix('Leaflet');
    // Leaflet's own labels, in the page's language.
    this.map.on('popupopen', (e) => {
      const close = e.popup.getElement()?.querySelector('.leaflet-popup-close-button');
      if (close) {
        close.setAttribute('aria-label', t('close_popup'));
        close.setAttribute('title', t('close_popup'));
      }
    });
    // Added once the first requests are on their way (see start), so tiles do not queue
    // ahead of them on the browser's six connections.
    this.base = basemap({ attribution: t('attribution') });
    const s = this.state;
    if (s.z !== '' && Number.isFinite(+s.z) && Number.isFinite(+s.lat) && Number.isFinite(+s.lng)) {
      this.map.setView([+s.lat, +s.lng], Math.round(+s.z));
    } else {
      this.map.fitBounds(window.innerWidth < 700 ? EAST : US);
    }
    // Before the data layer: its info box goes under the title in the same corner.
    this.title = new MapTitle(this);
    this.data = new DataLayer(this);
    this.places = new Places(this);
    this.labels = new CityLabels(this);
    this.insights = new Insights(this, this.tabEls.insights);
    this.outreach = new Outreach(this, this.tabEls.outreach);
    this.about = new About(this, this.tabEls.about);
    this.on('layer', (e) => {
      this.k = e.detail.privacy.min_count;
    });
    let timer = null;
    this.map.on('moveend', () => {
      this.saveView();
      clearTimeout(timer);
      timer = setTimeout(() => {
        this.data.refresh();
        this.insights.refresh();
      }, 120);
    });
  }

  on(name, f) {
    this.events.addEventListener(name, f);
  }

  emit(name, detail) {
    this.events.dispatchEvent(new CustomEvent(name, { detail }));
  }

  lang() {
    return getLang();
  }

  async start() {
    const codes = getJSON('/api/v1/codes');
    // The zoom → H3 resolution table is the server's (the tiles use it too): the first
    // hexagon layer waits for it.
    setHexagonResolutions((await getJSON('/tiles')).hexagon_resolutions);
    const def = layerDef(this.state.layer);
    let first = def.group ? null : this.data.refresh();
    setCodes(await codes);
    if (def.group) first = this.data.refresh();
    this.renderAll();
    performance.mark('dyaspora:interactive');
    document.documentElement.dataset.ready = '1';
    this.base.addTo(this.map);
    // Places and panels that need them come after the first layer.
    await first;
    await Promise.all([this.places.load(), this.loadMeta(), this.labels.render()]);
    // The title box says when the data are the invented demo set (maptitle.js).
    this.title.update();
    this.renderTab();
    this.outreach.refresh();
    this.insights.refresh();
    this.about.refreshIfShown();
  }

  /** The methodology's survey rounds and sample size, for the map's caption. */
  async loadMeta() {
    try {
      this.meta = await getJSON('/api/v1/methodology');
    } catch (e) {
      console.warn(e);
    }
  }

  /** A consular post's name in the page's language (the data name them in English). */
  postName(p) {
    return placeName(p);
  }

  buildShell() {
    const root = document.getElementById('app');
    // The centre mark shows where Enter reads the figures: for keyboard users only. A tap
    // focuses the map too (Leaflet focuses it), and Chromium then counts it as visible focus.
    this.mapEl = h('div', {
      id: 'map',
      role: 'application',
      onpointerdown: () => this.mapEl.classList.add('pointer-focus'),
      onkeydown: () => this.mapEl.classList.remove('pointer-focus'),
    });
    this.tabEls = Object.fromEntries(TABS.map((id) => [id, h('section', { id: `tab-${id}`, class: 'tabpanel', role: 'tabpanel', 'aria-labelledby': `tabbtn-${id}` })]));
    this.tabButtons = Object.fromEntries(TABS.map((id) => [id, h('button', {
      type: 'button', role: 'tab', id: `tabbtn-${id}`, 'aria-controls': `tab-${id}`,
      onclick: () => this.update({ tab: id }),
      onkeydown: (e) => this.tabKey(e, id),
    })]));
    this.langButtons = Object.fromEntries(LANGS.map((l) => [l, h('button', {
      type: 'button', class: 'lang-btn', lang: l, 'data-lang': l, onclick: () => this.update({ lang: l }),
      // Read out as the language's own name, not as the letters F-R.
      'aria-label': `${l.toUpperCase()}, ${LANG_NAMES[l]}`,
    }, l.toUpperCase())]));
    this.menuButton = h('button', {
      type: 'button', id: 'menu-toggle', 'aria-controls': 'panel', 'aria-expanded': 'false',
      onclick: () => this.togglePanel(),
    });
    this.titleEl = h('p', { class: 'tagline' });
    this.langGroup = h('div', { class: 'langs', role: 'group' }, Object.values(this.langButtons));
    this.skipLink = h('a', { class: 'skip', href: '#panel' });
    this.status = h('div', { id: 'status', role: 'status', 'aria-live': 'polite' });
    this.panel = h('aside', { id: 'panel', tabindex: '-1' },
      h('div', { class: 'tabs', role: 'tablist' }, Object.values(this.tabButtons)),
      Object.values(this.tabEls));
    fill(root,
      this.skipLink,
      h('header', { class: 'bar' },
        h('div', { class: 'brand' }, h('h1', {}, 'dyaspora'), this.titleEl),
        this.langGroup,
        this.menuButton),
      h('main', { class: 'layout' }, this.panel, this.mapEl),
      this.status);
  }

  togglePanel(open) {
    const on = open ?? !document.body.classList.contains('panel-open');
    document.body.classList.toggle('panel-open', on);
    this.menuButton.setAttribute('aria-expanded', String(on));
    this.menuButton.textContent = on ? t('close') : t('menu');
    setTimeout(() => this.map.invalidateSize(), 50);
  }

  tabKey(e, id) {
    const i = TABS.indexOf(id);
    let next = null;
    if (e.key === 'ArrowRight') next = TABS[(i + 1) % TABS.length];
    if (e.key === 'ArrowLeft') next = TABS[(i + TABS.length - 1) % TABS.length];
    if (e.key === 'Home') next = TABS[0];
    if (e.key === 'End') next = TABS[TABS.length - 1];
    if (next) {
      e.preventDefault();
      this.update({ tab: next });
      this.tabButtons[next].focus();
    }
  }

  /** Texts of the shell, and every tab, in the current language. */
  renderAll() {
    document.title = `dyaspora · ${t('tagline')}`;
    this.titleEl.textContent = t('tagline');
    this.skipLink.textContent = t('skip');
    this.langGroup.setAttribute('aria-label', t('language'));
    for (const [l, b] of Object.entries(this.langButtons)) b.setAttribute('aria-pressed', String(l === getLang()));
    for (const id of TABS) this.tabButtons[id].textContent = t(`tab_${id}`);
    this.menuButton.textContent = document.body.classList.contains('panel-open') ? t('close') : t('menu');
    this.mapEl.setAttribute('aria-label', t('map_label'));
    this.zoom?.remove();
    this.zoom = L.control.zoom({ position: 'topleft', zoomInTitle: t('zoom_in'), zoomOutTitle: t('zoom_out') }).addTo(this.map);
    this.map.attributionControl.removeAttribution(this.base.getAttribution());
    this.base.options.attribution = t('attribution');
    this.map.attributionControl.addAttribution(t('attribution'));
    this.title.update();
    // The other tabs are drawn when they are opened (see update).
    this.renderTab(this.state.tab);
    this.showTab();
    this.data.relabel();
  }

  renderTab(id = this.state.tab) {
    const focused = document.activeElement?.id;
    if (id === 'map') renderMapTab(this, this.tabEls.map);
    if (id === 'insights') this.insights.render();
    if (id === 'outreach') this.outreach.render();
    if (id === 'about') this.about.render();
    // Re-rendering replaced the focused control: give focus back to its successor.
    if (focused && (document.activeElement === document.body || !document.activeElement)) {
      document.getElementById(focused)?.focus();
    }
  }

  showTab() {
    for (const id of TABS) {
      const on = id === this.state.tab;
      this.tabButtons[id].setAttribute('aria-selected', String(on));
      this.tabButtons[id].tabIndex = on ? 0 : -1;
      this.tabEls[id].hidden = !on;
    }
  }

  saveView() {
    const c = this.map.getCenter();
    Object.assign(this.state, { z: String(this.map.getZoom()), lat: c.lat.toFixed(4), lng: c.lng.toFixed(4) });
    writeState(this.state);
  }

  update(patch) {
    const keys = Object.keys(patch);
    Object.assign(this.state, patch);
    if (keys.includes('lang')) setLang(this.state.lang);
    writeState(this.state);
    if (keys.includes('lang')) {
      this.renderAll();
      return;
    }
    if (keys.includes('tab')) {
      this.showTab();
      this.renderTab();
    }
    if (keys.some((k) => LAYER_KEYS.includes(k))) {
      this.data.refresh();
      this.renderTab('map');
      this.title.update();
    }
    if (keys.includes('posts') || keys.includes('assoc')) this.places.sync();
    if (keys.includes('scope')) this.insights.render();
    this.insights.refresh();
    if (keys.some((k) => ['post', 'mode', 'target', 'tab', ...FILTER_KEYS].includes(k))) {
      if (keys.some((k) => ['mode', 'target', 'post'].includes(k))) this.renderTab('outreach');
      this.outreach.refresh();
    }
  }

  /** The title of what the map shows, e.g. "Needs: Housing (respondents)". */
  measureTitle() {
    const s = this.state;
    const def = layerDef(s.layer);
    const m = measure(s);
    if (def.group) return `${labelled(t(`layer_${def.id}`))}${codeLabel(def.group, groupCode(s, def))} (${t('m_count').toLowerCase()})`;
    if (def.skill) {
      const [group, code] = s.skill.split(':');
      return `${labelled(t(`m_${m}`))}${codeLabel(group, code)}`;
    }
    return t(`m_${m}`);
  }

  /** The active filters in words, for the PNG export. */
  filterSummary() {
    const s = this.state;
    const parts = [];
    for (const k of ['gender', 'age_band', 'occupation', 'sector', 'need', 'department']) {
      if (s[k]) parts.push(`${labelled(t(`f_${k}`))}${s[k].split(',').map((c) => codeLabel(k, c)).join(', ')}`);
    }
    if (s.from || s.to) parts.push(`${s.from || '…'} – ${s.to || '…'}`);
    return parts.length ? parts.join(' · ') : t('no_filter');
  }

  /** Whether this server shows the synthetic demo set. */
  isDemo() {
    return Boolean(this.places?.isDemo());
  }

  /**
   * Downloads what is on screen (the view's box) as GeoJSON or CSV (`csv`: with its HXL
   * hashtag row; `csv-plain`: without it, `hxl=0`), or the CSVW metadata of the plain CSV
   * (`csvw`). The server names the file (unit, filters, release, date, `-plain`, `-demo`)
   * and says what it holds (the GeoJSON's `dyaspora:map` member, the CSV's CSVW metadata);
   * the page adds its own texts to the member: the title, headline and caption as shown.
   */
  async download(format) {
    const plain = format === 'csv-plain' || format === 'csvw';
    const p = { ...this.data.params({ bbox: false }), bbox: bboxParam(this.map.getBounds()), format: format === 'geojson' ? 'geojson' : 'csv', hxl: plain ? 0 : undefined, download: 1, metrics: 'all' };
    const path = format === 'csvw' ? '/api/v1/aggregates/csv-metadata.json' : '/api/v1/aggregates';
    try {
      const r = await fetch(`${path}?${qs(p)}`);
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      const name = /filename="?([^";]+)"?/.exec(r.headers.get('content-disposition') ?? '')?.[1] ?? `dyaspora.${p.format}`;
      let body = await r.text();
      const type = r.headers.get('content-type') ?? 'application/octet-stream';
      if (format === 'geojson') {
        const fc = JSON.parse(body);
        const x = mapTexts(this);
        fc['dyaspora:map'] = {
          ...fc['dyaspora:map'],
          title: x.title, filters: x.filters, headline: x.headline, hidden: x.hidden || null,
          caption: x.caption, demo: fc['dyaspora:map']?.demo ?? this.isDemo(), language: getLang(),
          survey: this.meta ? { rounds: this.meta.rounds, records: this.meta.records, release: this.meta.release } : null,
        };
        body = JSON.stringify(fc);
      }
      saveBlob(new Blob([body], { type }), name);
    } catch (e) {
      this.error(e);
    }
  }

  async exportPng() {
    const blob = await renderPng(this);
    saveBlob(blob, pngName(this));
  }

  error(e) {
    console.warn(e);
    this.status.textContent = t('load_failed', { msg: e.message });
    this.status.classList.add('show');
    clearTimeout(this.statusTimer);
    this.statusTimer = setTimeout(() => this.status.classList.remove('show'), 6000);
  }
}

const app = new App();
window.dyaspora = app;
app.missingStrings = missingKeys();
app.start();
