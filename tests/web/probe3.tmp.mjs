import { launch, idle } from './harness.mjs';
const b = await launch('http://127.0.0.1:18080');
const p = await b.page();
await p.goto('http://127.0.0.1:18080/');
await idle(p);
console.log(JSON.stringify(await p.evaluate(() => ({
  res: performance.getEntriesByType('resource').map(r => [r.name.replace(location.origin,'').slice(0,50), Math.round(r.startTime), Math.round(r.responseStart), Math.round(r.responseEnd)]),
  marks: performance.getEntriesByType('mark').map(m => [m.name, Math.round(m.startTime)]),
  nav: (({responseEnd, domInteractive, domContentLoadedEventEnd}) => ({responseEnd, domInteractive, domContentLoadedEventEnd}))(performance.getEntriesByType('navigation')[0]),
})), null, 0));
await p.goto('http://127.0.0.1:18080/');
await idle(p);
console.log(JSON.stringify(await p.evaluate(() => ({
  marks: performance.getEntriesByType('mark').map(m => [m.name, Math.round(m.startTime)]),
  nav: (({responseEnd, domInteractive, domContentLoadedEventEnd}) => ({responseEnd, domInteractive, domContentLoadedEventEnd}))(performance.getEntriesByType('navigation')[0]),
}))));
await b.close();
