// Consular posts (always few: plain markers) and associations (hundreds: clustered) from
// `GET /api/v1/places`. Markers are keyboard-focusable (Leaflet gives them a tab stop).

import L from './global-l.js';
import { getJSON } from './api.js';
import { t, codeLabel, getLang } from './i18n.js';
import { h } from './dom.js';

export function placeIcon(kind) {
  const post = kind === 'embassy' || kind === 'consulate_general';
  // The shape is an inner element: Leaflet positions the icon with its own transform.
  return L.divIcon({
    className: post ? 'pin-icon post' : 'pin-icon assoc',
    html: post ? '<span class="pin pin-post"></span>' : '<span class="pin pin-assoc"></span>',
    iconSize: post ? [20, 20] : [14, 14],
    iconAnchor: post ? [10, 10] : [7, 7],
    popupAnchor: [0, -8],
  });
}

/**
 * A place's name in the page's language: the server names consular posts in French and
 * Haitian Creole too (`name_fr`, `name_ht`: the one copy of those translations).
 */
export function placeName(p) {
  const lang = getLang();
  return (lang !== 'en' && p[`name_${lang}`]) || p.name;
}

/** A space-separated list of codes (places' properties are flat) as an array. */
const codeList = (s) => (s ? String(s).split(' ').filter(Boolean) : []);

/** The popup of a place (a GeoJSON feature of the places API). */
export function placePopup(f) {
  const p = f.properties;
  const rows = [
    [t('place_type'), codeLabel('place_kind', p.kind)],
    [t('place_where'), p.address ? `${p.address}, ${p.city}, ${p.state}` : `${p.city}, ${p.state}`],
  ];
  const served = codeList(p.served_states);
  const sectors = codeList(p.sectors);
  const languages = codeList(p.languages);
  if (served.length) rows.push([t('out_mode_jurisdiction'), served.join(', ')]);
  if (sectors.length) rows.push([t('f_sector'), sectors.map((c) => codeLabel('sector', c)).join(', ')]);
  if (languages.length) rows.push([t('place_languages'), languages.map((c) => codeLabel('language', c)).join(', ')]);
  return h('div', { class: 'popup' },
    h('h3', {}, placeName(p), p.is_demo ? h('span', { class: 'badge' }, 'demo') : null),
    h('dl', { class: 'place' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])));
}

export class Places {
  constructor(app) {
    this.app = app;
    this.fc = null;
    this.available = true;
    this.posts = L.layerGroup();
    this.assocMarkers = [];
    this.assocs = null;
  }

  /** The clustered associations; leaflet.markercluster is loaded the first time they show. */
  async clusters() {
    if (!this.assocs) {
      await import('leaflet.markercluster');
      this.assocs = L.markerClusterGroup({
        maxClusterRadius: 40,
        showCoverageOnHover: false,
        disableClusteringAtZoom: 12,
        chunkedLoading: true,
      });
      this.assocs.addLayers(this.assocMarkers);
    }
    return this.assocs;
  }

  async load() {
    try {
      this.fc = await getJSON('/api/v1/places');
    } catch (e) {
      this.available = false;
      this.app.emit('places', null);
      return;
    }
    for (const f of this.fc.features) {
      const [lng, lat] = f.geometry.coordinates;
      const marker = L.marker([lat, lng], {
        icon: placeIcon(f.properties.kind),
        title: placeName(f.properties),
        alt: placeName(f.properties),
        keyboard: true,
        riseOnHover: true,
      }).bindPopup(() => placePopup(f), { maxWidth: 280 });
      if (f.properties.category === 'consular') this.posts.addLayer(marker);
      else this.assocMarkers.push(marker);
    }
    await this.sync();
    this.app.emit('places', this.fc);
  }

  /** Whether the places are the synthetic demo set (it comes with the demo records). */
  isDemo() {
    return (this.fc?.features ?? []).some((f) => f.properties.is_demo);
  }

  /** The consular posts, for the outreach panel. */
  postFeatures() {
    return (this.fc?.features ?? []).filter((f) => f.properties.category === 'consular');
  }

  /** Shows or hides the overlays as the state says. */
  async sync() {
    const s = this.app.state;
    toggle(this.app.map, this.posts, s.posts === '1');
    if (s.assoc === '1' && this.fc) toggle(this.app.map, await this.clusters(), true);
    else if (this.assocs) toggle(this.app.map, this.assocs, false);
  }
}

function toggle(map, layer, on) {
  if (on && !map.hasLayer(layer)) layer.addTo(map);
  if (!on && map.hasLayer(layer)) map.removeLayer(layer);
}
