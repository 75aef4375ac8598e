// Leaflet as an ES module, also published as `window.L`: leaflet.markercluster (a UMD
// script) extends the global `L`, so this module must be imported before it.
import L from 'leaflet';

window.L = L;
export default L;
