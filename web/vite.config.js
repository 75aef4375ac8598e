// Build of the web map into dist/, which the dyaspora binary embeds (src/http/web.rs).
// No inlined assets or scripts: the page's Content-Security-Policy allows only the origin.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/',
  publicDir: 'public',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2020',
    assetsInlineLimit: 0,
    cssCodeSplit: false,
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: true,
  },
  server: {
    // `npm run dev` against a local `dyaspora serve` on the default port.
    proxy: { '/api': 'http://127.0.0.1:8080', '/tiles': 'http://127.0.0.1:8080', '/ogc': 'http://127.0.0.1:8080' },
  },
});
