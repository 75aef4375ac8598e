// The "Map" tab: layer and measure, geography, places, filters and downloads.

import { h, fill, select } from './dom.js';
import { t, codeList, getLang } from './i18n.js';
import { LAYERS, layerDef, groupCode, measure } from './layers.js';
import { FILTER_KEYS } from './state.js';

const FILTER_LISTS = { gender: 'gender', age_band: 'age_band', occupation: 'occupation', sector: 'sector', need: 'need', department: 'department' };

export function renderMapTab(app, el) {
  const s = app.state;
  const def = layerDef(s.layer);
  const lang = getLang();
  const codeOptions = (list) => codeList(list).map((c) => [c.code, list === 'occupation' ? `${c.code} · ${c[lang]}` : c[lang]]);

  const layerFields = [
    select('layer', t('layer'), LAYERS.map((l) => [l.id, t(`layer_${l.id}`)]), def.id, (v) => app.update({ layer: v, m: '' })),
  ];
  if (def.measures && def.measures.length > 1) {
    layerFields.push(select('measure', t('measure'), def.measures.map((m) => [m, t(`m_${m}`)]), measure(s), (v) => app.update({ m: v })));
  }
  if (def.skill) {
    const [group, code] = s.skill.split(':');
    layerFields.push(select('skill-group', t('skill_kind'), [['occupation', t('skill_occupation')], ['sector', t('skill_sector')]], group,
      (v) => app.update({ skill: `${v}:${codeList(v)[0]?.code ?? ''}` })));
    layerFields.push(select('skill-code', t(group === 'sector' ? 'skill_sector' : 'skill_occupation'), codeOptions(group), code,
      (v) => app.update({ skill: `${group}:${v}` })));
  }
  if (def.group) {
    layerFields.push(select('group-code', t(`code_${def.group}`), codeOptions(def.group), groupCode(s, def), (v) => app.update({ code: v })));
  }

  const units = ['h3', 'state', 'county'];
  const geography = h('fieldset', { class: 'units' },
    h('legend', {}, t('geography')),
    units.map((u) => h('label', { class: 'radio' },
      h('input', { type: 'radio', name: 'unit', value: u, checked: s.unit === u, onchange: () => app.update({ unit: u }) }),
      t(`unit_${u}`))));

  const places = h('fieldset', { class: 'overlays' },
    h('legend', {}, t('overlays')),
    app.places.available
      ? [
        h('label', { class: 'check' },
          h('input', { type: 'checkbox', id: 'show-posts', checked: s.posts === '1', onchange: (e) => app.update({ posts: e.target.checked ? '1' : '0' }) }),
          h('span', { class: 'pin-key pin-post', 'aria-hidden': 'true' }), t('posts')),
        h('label', { class: 'check' },
          h('input', { type: 'checkbox', id: 'show-assoc', checked: s.assoc === '1', onchange: (e) => app.update({ assoc: e.target.checked ? '1' : '0' }) }),
          h('span', { class: 'pin-key pin-assoc', 'aria-hidden': 'true' }), t('associations')),
      ]
      : h('p', { class: 'note' }, t('places_unavailable')));

  const active = FILTER_KEYS.filter((k) => s[k]).length;
  const filters = h('fieldset', { class: 'filters' },
    h('legend', {}, t('filters')),
    h('p', { class: 'note', id: 'filter-status' }, active ? t('active_filters', { n: active }) : t('no_filter')),
    Object.entries(FILTER_LISTS).map(([key, list]) =>
      select(`f-${key}`, t(`f_${key}`), [['', t('all')], ...codeOptions(list)], s[key], (v) => app.update({ [key]: v }))),
    h('div', { class: 'months' },
      ['from', 'to'].map((key) => h('div', { class: 'field' },
        h('label', { for: `f-${key}` }, t(`f_${key}`)),
        h('input', {
          type: 'month', id: `f-${key}`, value: s[key], min: '2000-01', max: '2100-12',
          onchange: (e) => app.update({ [key]: /^\d{4}-\d{2}$/.test(e.target.value) ? e.target.value : '' }),
        })))),
    h('button', { type: 'button', id: 'reset-filters', disabled: !active, onclick: () => app.update(Object.fromEntries(FILTER_KEYS.map((k) => [k, '']))) }, t('reset')));

  // First in the tab, folded: easy to find, out of the way of the layer and filters.
  const downloads = h('details', { class: 'downloads', id: 'downloads', open: app.downloadsOpen || null, ontoggle: (e) => { app.downloadsOpen = e.target.open; } },
    h('summary', {}, t('download')),
    h('div', { class: 'buttons' },
      h('button', { type: 'button', id: 'dl-png', onclick: () => app.exportPng() }, t('dl_png')),
      h('button', { type: 'button', id: 'dl-csv-plain', onclick: () => app.download('csv-plain') }, t('dl_csv_plain')),
      h('button', { type: 'button', id: 'dl-csv', onclick: () => app.download('csv') }, t('dl_csv_hxl')),
      h('button', { type: 'button', id: 'dl-geojson', onclick: () => app.download('geojson') }, t('dl_geojson')),
      h('button', { type: 'button', id: 'dl-csvw', onclick: () => app.download('csvw') }, t('dl_csvw'))),
    h('p', { class: 'note' }, t('dl_note')),
    h('p', { class: 'note', id: 'dl-help-meta' }, t('dl_help_meta')),
    h('p', { class: 'note' }, t('dl_help_hxl')),
    h('p', { class: 'note' }, t('dl_help_fips')),
    app.isDemo() ? h('p', { class: 'note' }, t('dl_help_demo')) : null);

  fill(el, downloads, h('div', { class: 'layer-fields' }, layerFields), geography, places, filters);
}
