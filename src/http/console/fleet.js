// The fleet page: the service-failed and crashed panels, every device with filters and
// counts, a uuid search, pages of the API's page tokens, and commands to a selection.
// Live by polling (every 3 s, the panels, the page in view and the filters' counts, the
// latter one CountClients call; a panel's list only when its count is not zero).

import * as api from './api.js';
import { el, enumName, time, ago, every, fill } from './util.js';
import { commandBar, resultLine } from './commands.js';

const PAGE = 50;
const POLL_MS = 3000;

/** The filters, each a ListClients request fragment. */
const FILTERS = [
  ['all', 'All', {}],
  ['online', 'Online', { presence: 'PRESENCE_ONLINE' }],
  ['offline', 'Offline', { presence: 'PRESENCE_OFFLINE' }],
  ['crashed', 'Crashed', { crash_state: 'CRASH_STATE_CRASHED' }],
  ['service-failed', 'Service failed', { service_failed: true }],
];

/** The CountClients field that holds each filter's count. */
const COUNTED = { all: 'total', online: 'online', offline: 'offline', crashed: 'crashed', 'service-failed': 'service_failed' };

export function render(root) {
  const state = {
    filter: 'all',
    group: '',
    search: '',
    tokens: [''], // page tokens: tokens[i] opens page i
    page: 0,
    next: '',
    clients: [],
    selected: new Set(),
    results: new Map(), // uuid → the last issue() result, shown beside the device
  };
  const panels = el('div', { class: 'panels' });
  const filterBar = el('div', { class: 'filters' });
  const group = el('input', { name: 'group', placeholder: 'group', size: 12 });
  const search = el('input', { name: 'search', placeholder: 'search uuid…', size: 24 });
  const rows = el('tbody');
  const pager = el('div', { class: 'pager' });
  const status = el('p', { class: 'error' });
  const bar = commandBar({
    selected: () => [...state.selected],
    onResults: (results) => { for (const [uuid, r] of results) state.results.set(uuid, r); draw(); },
  });
  const all = el('input', { type: 'checkbox', name: 'select-page', title: 'select this page' });
  root.append(
    el('h1', {}, 'Fleet'),
    panels,
    el('div', { class: 'card' },
      filterBar,
      el('div', { class: 'filters' }, group, search),
      bar,
      el('table', { id: 'fleet-table' },
        el('thead', {}, el('tr', {},
          el('th', {}, all), el('th', {}, 'device'), el('th', {}, 'group'), el('th', {}, 'presence'),
          el('th', {}, 'process'), el('th', {}, 'last heartbeat'), el('th', {}, 'reconnects'),
          el('th', {}, 'service failed'), el('th', {}, 'lockout'), el('th', {}, 'last action'))),
        rows),
      pager, status));

  const request = (fragment) => {
    const r = { ...fragment };
    if (state.group) r.group = state.group;
    if (state.search) r.uuid_prefix = state.search;
    return r;
  };
  const filterRequest = () => (FILTERS.find(([key]) => key === state.filter) || FILTERS[0])[2];

  let counts = {};
  const drawFilters = () => fill(filterBar, FILTERS.map(([key, text]) => el('button', {
    class: key === state.filter ? 'active' : '',
    name: `filter-${key}`,
    onclick: () => { state.filter = key; restart(); },
  }, text, el('span', { class: 'count', dataset: { count: key } }, counts[key] ?? '…'))));

  const draw = () => {
    drawFilters();
    all.checked = state.clients.length > 0 && state.clients.every((c) => state.selected.has(c.client_uuid));
    fill(rows, state.clients.map((c) => deviceRow(c, state)));
    if (state.clients.length === 0) rows.append(el('tr', {}, el('td', { colspan: 10, class: 'muted' }, 'No devices match.')));
    fill(pager,
      el('button', { name: 'prev', disabled: state.page === 0, onclick: () => { state.page -= 1; load(); } }, '← Previous'),
      el('span', { class: 'muted' }, `page ${state.page + 1}`),
      el('button', { name: 'next', disabled: !state.next, onclick: () => { state.tokens[state.page + 1] = state.next; state.page += 1; load(); } }, 'Next →'),
      el('span', { class: 'muted' }, `${state.selected.size} selected`));
    bar.refresh();
  };

  const deviceRow = (c) => {
    const uuid = c.client_uuid;
    const box = el('input', {
      type: 'checkbox', name: 'select', value: uuid, checked: state.selected.has(uuid),
      onchange: (e) => { if (e.target.checked) state.selected.add(uuid); else state.selected.delete(uuid); draw(); },
    });
    return el('tr', { class: state.selected.has(uuid) ? 'selected' : '', dataset: { uuid } },
      el('td', {}, box),
      el('td', { class: 'mono' }, el('a', { href: `#/device/${uuid}` }, uuid)),
      el('td', {}, c.group),
      el('td', {}, presence(c.presence)),
      el('td', {}, processBadge(c)),
      el('td', { title: time(c.last_health_at) }, ago(c.last_health_at)),
      el('td', {}, c.mqtt_reconnect_count),
      el('td', {}, c.service_failed_unit ? el('span', { class: 'badge warn' }, c.service_failed_unit) : ''),
      el('td', {}, c.lockout && c.lockout.locked_out ? el('span', { class: 'badge bad' }, 'locked out') : ''),
      el('td', { class: 'result' }, resultLine(state.results.get(uuid))));
  };

  const load = async () => {
    try {
      const answer = await api.call('ClientCommandService', 'ListClients',
        request({ ...filterRequest(), page_size: PAGE, page_token: state.tokens[state.page] }));
      state.clients = answer.clients;
      state.next = answer.next_page_token;
      status.textContent = '';
    } catch (err) {
      status.textContent = `${err.code}: ${err.message}`;
    }
    draw();
  };

  // Every filter's count in one call, within the group and search; the server shares a
  // count between consoles for up to a second.
  const loadCounts = async () => {
    const answer = await api.call('ClientCommandService', 'CountClients', request({})).catch(() => null);
    counts = Object.fromEntries(FILTERS.map(([key]) => [key, answer ? Number(answer[COUNTED[key]]) : '?']));
    drawFilters();
  };

  const restart = () => { state.tokens = ['']; state.page = 0; load(); loadCounts(); };
  all.addEventListener('change', () => {
    for (const c of state.clients) {
      if (all.checked) state.selected.add(c.client_uuid); else state.selected.delete(c.client_uuid);
    }
    draw();
  });
  let typing = null;
  const onInput = () => {
    clearTimeout(typing);
    typing = setTimeout(() => { state.group = group.value.trim(); state.search = search.value.trim(); restart(); }, 250);
  };
  group.addEventListener('input', onInput);
  search.addEventListener('input', onInput);

  draw();
  const stopPanels = every(POLL_MS, () => drawPanels(panels));
  const stopList = every(POLL_MS, () => Promise.all([load(), loadCounts()]));
  return () => { stopPanels(); stopList(); clearTimeout(typing); };
}

/** The orange service-failed panel and the crashed panel; each absent when empty. The
 * fleet's counts (one CountClients, shared with the filters' when no group or search is set)
 * say which lists to fetch: an empty panel costs no list. */
async function drawPanels(panels) {
  let failed = [];
  let crashed = [];
  const counted = await api.call('ClientCommandService', 'CountClients', {}).catch(() => null);
  // Without counts, fetch both: the lists' own errors then show.
  const wanted = (field) => !counted || Number(counted[field] ?? 0) > 0;
  const list = (field, filter) => (wanted(field)
    ? api.call('ClientCommandService', 'ListClients', { ...filter, page_size: 100 }).then((a) => a.clients)
    : Promise.resolve([]));
  try {
    [failed, crashed] = await Promise.all([
      list('service_failed', { service_failed: true }),
      list('crashed', { crash_state: 'CRASH_STATE_CRASHED' }),
    ]);
  } catch {
    return; // the list below shows the error
  }
  const mayAct = await api.can('operator');
  const cards = [];
  if (failed.length > 0) {
    cards.push(el('section', { class: 'card panel-service-failed', id: 'service-failed-panel' },
      el('h2', {}, `Service failed (${failed.length})`),
      el('table', {}, el('tbody', {}, failed.map((c) => {
        const error = el('span', { class: 'inline-error' });
        const ack = el('button', { name: 'acknowledge', dataset: { uuid: c.client_uuid }, disabled: !mayAct }, 'Acknowledge');
        ack.addEventListener('click', async () => {
          ack.disabled = true;
          try {
            await api.call('ClientCommandService', 'ClearServiceFailed', { client_uuid: c.client_uuid });
            ack.closest('tr').remove();
            if (!panels.querySelector('#service-failed-panel tr')) panels.querySelector('#service-failed-panel')?.remove();
          } catch (err) {
            error.textContent = `${err.code}: ${err.message}`;
            ack.disabled = false;
          }
        });
        return el('tr', { dataset: { uuid: c.client_uuid } },
          el('td', { class: 'mono' }, el('a', { href: `#/device/${c.client_uuid}` }, c.client_uuid)),
          el('td', {}, c.service_failed_unit),
          el('td', { title: time(c.service_failed_at) }, ago(c.service_failed_at)),
          el('td', {}, ack, error));
      })))));
  }
  if (crashed.length > 0) {
    cards.push(el('section', { class: 'card panel-crashed', id: 'crashed-panel' },
      el('h2', {}, `Crashed (${crashed.length})`),
      el('table', {}, el('tbody', {}, crashed.map((c) => el('tr', { dataset: { uuid: c.client_uuid } },
        el('td', { class: 'mono' }, el('a', { href: `#/device/${c.client_uuid}` }, c.client_uuid)),
        el('td', {}, enumName(c.crash_recovery?.step, 'CRASH_RECOVERY_STEP_')),
        el('td', { title: time(c.crash_recovery?.detected_at) }, ago(c.crash_recovery?.detected_at))))))));
  }
  // Keep a failed acknowledgement's message until the next change of the list.
  if (panels.querySelector('.inline-error:not(:empty)')) return;
  fill(panels, cards);
}

function presence(value) {
  const name = enumName(value, 'PRESENCE_');
  const cls = name === 'online' ? 'ok' : name === 'offline' ? 'bad' : '';
  return el('span', { class: `badge ${cls}` }, name === 'unspecified' ? 'unknown' : name);
}

function processBadge(c) {
  const name = enumName(c.process_status, 'PROCESS_STATUS_');
  const crash = enumName(c.crash_state, 'CRASH_STATE_');
  if (crash === 'crashed') return el('span', { class: 'badge bad' }, 'crashed');
  if (crash === 'stale') return el('span', { class: 'badge warn' }, 'stale');
  return el('span', { class: name === 'running' ? 'badge ok' : 'badge' }, name === 'unspecified' ? '—' : name);
}
