// Place names over the map, so that a reader finds their way: the GeoNames places of the
// ZIP centroids (web/src/cities.json, made by geodata/cities.mjs), the bigger first, each
// from its own zoom, none overlapping another. Loaded (a separate chunk) the first time the
// map is zoomed in to 6 or more, so the first load does not carry them.

import L from './global-l.js';

const FROM_ZOOM = 6;
const MAX_LABELS = 140;

export class CityLabels {
  constructor(app) {
    this.app = app;
    this.map = app.map;
    const pane = this.map.createPane('labels');
    // Over the areas (400) and under the outreach plan (450) and the markers (600).
    pane.style.zIndex = 430;
    pane.style.pointerEvents = 'none';
    this.group = L.layerGroup([], { pane: 'labels' }).addTo(this.map);
    this.shown = [];
    this.map.on('moveend', () => this.render());
  }

  async load() {
    if (this.cities || this.map.getZoom() < FROM_ZOOM) return;
    this.loading ??= import('./cities.json').then((m) => {
      this.cities = m.default;
    });
    await this.loading;
  }

  async render() {
    const z = this.map.getZoom();
    if (z >= FROM_ZOOM && !this.cities) await this.load();
    this.group.clearLayers();
    this.shown = [];
    if (z < FROM_ZOOM || !this.cities) {
      this.map.getContainer().dataset.labels = '0';
      return;
    }
    const bounds = this.map.getBounds();
    const size = this.map.getSize();
    const origin = this.map.getContainer().getBoundingClientRect();
    // The map's own boxes (title, legend, caption, zoom) hide what is under them.
    const boxes = [...this.map.getContainer().querySelectorAll('.leaflet-control')].map((e) => {
      const r = e.getBoundingClientRect();
      return [r.left - origin.left, r.top - origin.top, r.right - origin.left, r.bottom - origin.top];
    });
    const controls = boxes.length;
    for (const [name, lat, lon, minZoom] of this.cities) {
      if (minZoom > z || !bounds.contains([lat, lon])) continue;
      const p = this.map.latLngToContainerPoint([lat, lon]);
      // About 6.6 px a character at 12 px bold, with a margin.
      const w = name.length * 6.6 + 10;
      const b = [p.x - w / 2, p.y - 9, p.x + w / 2, p.y + 9];
      if (b[0] < 0 || b[1] < 0 || b[2] > size.x || b[3] > size.y) continue;
      if (boxes.some((o) => b[0] < o[2] && b[2] > o[0] && b[1] < o[3] && b[3] > o[1])) continue;
      boxes.push(b);
      this.shown.push({ name, lat, lon });
      this.group.addLayer(L.marker([lat, lon], {
        pane: 'labels',
        interactive: false,
        keyboard: false,
        // The name as a text node: never parsed as markup.
        icon: L.divIcon({ className: 'city-label', html: Object.assign(document.createElement('span'), { textContent: name }), iconSize: null }),
      }));
      if (boxes.length - controls >= MAX_LABELS) break;
    }
    this.map.getContainer().dataset.labels = String(this.shown.length);
  }
}
