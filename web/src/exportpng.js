// Export of the current view as a PNG for policy briefs: title, the map (basemap tiles and
// the layer as shown, drawn again on a canvas), the legend, the filters, the date and the
// attribution. Everything comes from the same origin, so the canvas is never tainted.

import { t, getLang } from './i18n.js';
import { fmtDate } from './format.js';
import { legendRows } from './legend.js';
import { rings } from './geometry.js';

const HEADER = 64;
const FOOTER = 44;
const TILE = 256;

function loadImage(src) {
  return new Promise((resolve) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => resolve(null);
    img.src = src;
  });
}

/** Draws the view and returns a PNG blob. */
export async function renderPng(app) {
  const map = app.map;
  const size = map.getSize();
  const scale = Math.min(2, window.devicePixelRatio || 1);
  const width = Math.max(size.x, 640);
  const height = size.y + HEADER + FOOTER;
  const canvas = document.createElement('canvas');
  canvas.width = width * scale;
  canvas.height = height * scale;
  const ctx = canvas.getContext('2d');
  ctx.scale(scale, scale);
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, width, height);

  // Map area.
  ctx.save();
  ctx.translate(0, HEADER);
  ctx.beginPath();
  ctx.rect(0, 0, size.x, size.y);
  ctx.clip();
  ctx.fillStyle = '#aad3df';
  ctx.fillRect(0, 0, size.x, size.y);
  const z = map.getZoom();
  const origin = map.getPixelBounds().min;
  const pb = map.getPixelBounds();
  const n = 2 ** z;
  const tiles = [];
  for (let x = Math.floor(pb.min.x / TILE); x <= Math.floor(pb.max.x / TILE); x++) {
    for (let y = Math.floor(pb.min.y / TILE); y <= Math.floor(pb.max.y / TILE); y++) {
      if (y < 0 || y >= n) continue;
      const wx = ((x % n) + n) % n;
      tiles.push(loadImage(`/tiles/basemap/${z}/${wx}/${y}.png`).then((img) => img && ctx.drawImage(img, x * TILE - origin.x, y * TILE - origin.y)));
    }
  }
  await Promise.all(tiles);
  const fc = app.data.fc;
  if (fc) {
    for (const f of fc.features) {
      ctx.beginPath();
      for (const ring of rings(f.geometry)) {
        ring.forEach(([lng, lat], i) => {
          const p = map.latLngToContainerPoint([lat, lng]);
          if (i === 0) ctx.moveTo(p.x, p.y);
          else ctx.lineTo(p.x, p.y);
        });
        ctx.closePath();
      }
      ctx.globalAlpha = 0.8;
      ctx.fillStyle = app.data.fillOf(f);
      ctx.fill('evenodd');
      ctx.globalAlpha = 0.7;
      ctx.strokeStyle = '#5a5a5a';
      ctx.lineWidth = 0.5;
      ctx.stroke();
      ctx.globalAlpha = 1;
    }
  }
  if (app.state.posts === '1' && app.places.fc) {
    for (const f of app.places.postFeatures()) {
      const [lng, lat] = f.geometry.coordinates;
      const p = map.latLngToContainerPoint([lat, lng]);
      ctx.beginPath();
      ctx.arc(p.x, p.y, 6, 0, Math.PI * 2);
      ctx.fillStyle = '#c8102e';
      ctx.fill();
      ctx.strokeStyle = '#ffffff';
      ctx.lineWidth = 2;
      ctx.stroke();
    }
  }
  ctx.restore();

  // Title and subtitle.
  ctx.fillStyle = '#1a1a1a';
  ctx.font = 'bold 18px system-ui, sans-serif';
  ctx.fillText(t('export_title'), 12, 24);
  ctx.font = '14px system-ui, sans-serif';
  ctx.fillText(app.measureTitle(), 12, 44);
  ctx.font = '12px system-ui, sans-serif';
  ctx.fillStyle = '#444444';
  ctx.fillText(t('export_filters', { f: app.filterSummary() }), 12, 59);
  if (app.places?.isDemo()) {
    ctx.font = 'bold 12px system-ui, sans-serif';
    ctx.fillStyle = '#8a1c1c';
    ctx.textAlign = 'right';
    ctx.fillText(t('demo_flag'), width - 12, 24);
    ctx.textAlign = 'left';
  }

  // Legend, bottom right of the map.
  if (fc) {
    const rows = legendRows(fc.classification, fc.privacy.min_count, false);
    ctx.font = '12px system-ui, sans-serif';
    const lw = Math.max(...rows.map(([, l]) => ctx.measureText(l).width)) + 40;
    const lh = rows.length * 18 + 12;
    const lx = size.x - lw - 10;
    const ly = HEADER + size.y - lh - 10;
    ctx.fillStyle = 'rgba(255,255,255,0.92)';
    ctx.fillRect(lx, ly, lw, lh);
    ctx.strokeStyle = '#999999';
    ctx.lineWidth = 1;
    ctx.strokeRect(lx, ly, lw, lh);
    rows.forEach(([color, label], i) => {
      ctx.fillStyle = color;
      ctx.fillRect(lx + 8, ly + 8 + i * 18, 18, 12);
      ctx.strokeStyle = '#666666';
      ctx.strokeRect(lx + 8, ly + 8 + i * 18, 18, 12);
      ctx.fillStyle = '#1a1a1a';
      ctx.fillText(label, lx + 32, ly + 18 + i * 18);
    });
  }

  // Footer: date, data version, attribution.
  ctx.fillStyle = '#444444';
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillText(t('export_date', { date: fmtDate(new Date()), v: fc?.data_version ?? '?' }) + ` · ${window.location.host}`, 12, HEADER + size.y + 17);
  ctx.fillText(`${t('attribution')} · Leaflet`, 12, HEADER + size.y + 34);

  return new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
}

export function pngName(app) {
  const d = new Date().toISOString().slice(0, 10);
  return `dyaspora-${app.state.layer}-${getLang()}-${d}.png`;
}
