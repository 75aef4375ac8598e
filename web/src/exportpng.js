// Export of the current view as a PNG for policy briefs: title, the map (basemap tiles and
// the layer as shown, drawn again on a canvas), the legend, the filters, the date and the
// attribution. Everything comes from the same origin, so the canvas is never tainted.

import { t, getLang } from './i18n.js';
import { fmtDate } from './format.js';
import { legendRows } from './legend.js';
import { rings } from './geometry.js';
import { mapTexts } from './maptitle.js';
import { FILL_OPACITY } from './datalayer.js';

const TILE = 256;
const PAD = 12;

/** Splits `text` into lines no wider than `width` at the context's current font. */
function wrap(ctx, text, width) {
  const lines = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    const next = line ? `${line} ${word}` : word;
    if (line && ctx.measureText(next).width > width) {
      lines.push(line);
      line = word;
    } else line = next;
  }
  if (line) lines.push(line);
  return lines;
}

/** Blocks of text as [font, colour, lines, line height], wrapped to `width`. */
function layout(ctx, blocks, width) {
  return blocks.filter((b) => b.text).map((b) => {
    ctx.font = b.font;
    return { ...b, lines: wrap(ctx, b.text, width) };
  });
}

function heightOf(blocks) {
  return blocks.reduce((a, b) => a + b.lines.length * b.lh, 0);
}

function drawBlocks(ctx, blocks, x, y) {
  let yy = y;
  for (const b of blocks) {
    ctx.font = b.font;
    ctx.fillStyle = b.color;
    for (const line of b.lines) {
      yy += b.lh;
      ctx.fillText(line, x, yy - Math.round(b.lh * 0.28));
    }
  }
  return yy;
}

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
  // The map's own width: a phone's image is a phone's map, without a blank band beside it.
  const width = size.x;
  const x = mapTexts(app);
  const measure = document.createElement('canvas').getContext('2d');
  const textWidth = width - 2 * PAD;
  const head = layout(measure, [
    { text: app.isDemo() ? t('demo_flag') : '', font: 'bold 12px system-ui, sans-serif', color: '#8a1c1c', lh: 16 },
    { text: t('export_title'), font: 'bold 16px system-ui, sans-serif', color: '#1a1a1a', lh: 21 },
    { text: x.title, font: 'bold 14px system-ui, sans-serif', color: '#1a1a1a', lh: 19 },
    { text: t('export_filters', { f: x.filters }), font: '12px system-ui, sans-serif', color: '#444444', lh: 16 },
    { text: x.headline, font: '12px system-ui, sans-serif', color: '#1a1a1a', lh: 16 },
    { text: x.hidden, font: 'italic 12px system-ui, sans-serif', color: '#444444', lh: 16 },
  ], textWidth);
  const foot = layout(measure, [
    { text: x.caption, font: '11px system-ui, sans-serif', color: '#1a1a1a', lh: 15 },
    { text: `${t('export_date', { date: fmtDate(new Date()), v: app.data.fc?.data_version ?? '?' })} · ${window.location.host}`, font: '11px system-ui, sans-serif', color: '#444444', lh: 15 },
    { text: `${t('attribution')} · Leaflet`, font: '11px system-ui, sans-serif', color: '#444444', lh: 15 },
  ], textWidth);
  const HEADER = heightOf(head) + 2 * 6;
  const FOOTER = heightOf(foot) + 2 * 6;
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
      ctx.globalAlpha = FILL_OPACITY;
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
  // Place names, as on the map.
  ctx.font = 'bold 12px system-ui, sans-serif';
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.lineJoin = 'round';
  for (const c of app.labels?.shown ?? []) {
    const p = map.latLngToContainerPoint([c.lat, c.lon]);
    ctx.strokeStyle = '#ffffff';
    ctx.lineWidth = 3;
    ctx.strokeText(c.name, p.x, p.y);
    ctx.fillStyle = '#1f1f1f';
    ctx.fillText(c.name, p.x, p.y);
  }
  ctx.textAlign = 'left';
  ctx.textBaseline = 'alphabetic';
  ctx.restore();

  // Title, filters, headline (the map's own title box), and the demo flag first.
  drawBlocks(ctx, head, PAD, 6);

  // Legend, bottom right of the map.
  if (fc) {
    const rows = legendRows(fc.classification, fc.privacy.min_count, false, app.data.drawsSuppressed());
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

  // Footer: source, survey period and sample size; date and data version; attribution.
  drawBlocks(ctx, foot, PAD, HEADER + size.y + 6);

  return new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
}

export function pngName(app) {
  const d = new Date().toISOString().slice(0, 10);
  return `dyaspora-${app.state.layer}-${getLang()}-${d}${app.isDemo() ? '-demo' : ''}.png`;
}
