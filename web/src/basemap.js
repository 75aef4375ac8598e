// The offline basemap (`/tiles/basemap/{z}/{x}/{y}.png`, drawn by dyaspora itself).
//
// Leaflet 1.9 cancels unwanted tile downloads by pointing the image at a `data:` GIF, which
// a Content-Security-Policy of `img-src 'self'` refuses (and reports as an error). Removing
// the `src` attribute cancels the download as well, without loading anything. These three
// overrides mirror TileLayer's own methods in Leaflet 1.9.4 (pinned in package.json).

import L from './global-l.js';

function cancel(img) {
  img.onload = L.Util.falseFn;
  img.onerror = L.Util.falseFn;
  img.removeAttribute('src');
}

const OfflineTiles = L.TileLayer.extend({
  _abortLoading() {
    for (const key of Object.keys(this._tiles)) {
      const entry = this._tiles[key];
      if (entry.coords.z === this._tileZoom) continue;
      const tile = entry.el;
      if (!tile.complete) {
        cancel(tile);
        L.DomUtil.remove(tile);
        delete this._tiles[key];
        this.fire('tileabort', { tile, coords: entry.coords });
      } else {
        tile.onload = L.Util.falseFn;
        tile.onerror = L.Util.falseFn;
      }
    }
  },

  _removeTile(key) {
    const entry = this._tiles[key];
    if (!entry) return undefined;
    if (!entry.el.complete) cancel(entry.el);
    return L.GridLayer.prototype._removeTile.call(this, key);
  },

  _tileReady(coords, err, tile) {
    if (!this._map || (tile && !tile.getAttribute('src'))) return undefined;
    return L.GridLayer.prototype._tileReady.call(this, coords, err, tile);
  },
});

export function basemap(options) {
  return new OfflineTiles('/tiles/basemap/{z}/{x}/{y}.png', { maxZoom: 14, maxNativeZoom: 14, ...options });
}
