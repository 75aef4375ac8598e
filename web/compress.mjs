// After `vite build`: writes Brotli (.br) and gzip (.gz) copies of the text files of dist/,
// so the server sends them as they are instead of compressing on every request
// (src/http/web.rs picks the copy the browser accepts). Deterministic: same input, same bytes.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const DIST = path.join(path.dirname(new URL(import.meta.url).pathname), 'dist');
const TEXT = /\.(js|mjs|css|html|svg|json|txt|webmanifest)$/;

function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : [p];
  });
}

let raw = 0;
let br = 0;
for (const file of walk(DIST).filter((f) => TEXT.test(f))) {
  const data = fs.readFileSync(file);
  const b = zlib.brotliCompressSync(data, {
    params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length },
  });
  const g = zlib.gzipSync(data, { level: 9 });
  if (b.length < data.length) fs.writeFileSync(`${file}.br`, b);
  if (g.length < data.length) fs.writeFileSync(`${file}.gz`, g);
  raw += data.length;
  br += Math.min(b.length, data.length);
}
console.log(`compressed: ${raw} bytes of text → ${br} bytes with Brotli`);
