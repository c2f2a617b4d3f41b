// Rollouts pages: the list with the start form (#/rollouts) and one rollout's live progress
// (#/rollout/<id>). Every figure comes from the server (ListRollouts, WatchRollout); the page
// computes nothing but widths. Buttons follow role(); the server decides.

import { call, watch, can } from './api.js';
import { el, fill, time, enumName, confirmDialog } from './util.js';

const SERVICE = 'rebound.v1.ClientCommandService';
const POLL_MS = 5000;
const TERMINAL = ['completed', 'aborted', 'failed'];

// Per-state counters in the order a command moves, with the bar colour class of each.
const COUNTERS = [
  ['pending', 'not issued yet'],
  ['queued', 'queued'],
  ['in_flight', 'in flight'],
  ['completed', 'completed'],
  ['failed', 'failed'],
  ['timed_out', 'timed out'],
  ['expired', 'expired'],
  ['canceled', 'canceled'],
  ['rejected', 'rejected'],
];

export function render(root, params) {
  const id = params && (params.id || params[0]);
  return id ? renderDetail(root, id) : renderList(root);
}

// ---------------------------------------------------------------------------------------
// List and start form

function renderList(root) {
  fill(root);
  const rows = el('tbody');
  const listError = el('p', { class: 'inline-error', hidden: true, 'data-testid': 'rollouts-error' });
  const more = el('button', { type: 'button', hidden: true }, 'More');
  let nextToken = '';
  let stopped = false;

  root.append(
    el('h1', {}, 'Rollouts'),
    startForm(),
    el('section', { class: 'panel' },
      el('h2', {}, 'All rollouts'),
      listError,
      el('table', { class: 'rollouts', 'data-testid': 'rollouts-table' },
        el('thead', {}, el('tr', {},
          ...['Rollout', 'Action', 'State', 'Progress', 'Failure rate', 'Created'].map((h) => el('th', {}, h)))),
        rows),
      more));

  // The first page is refreshed in place every POLL_MS; "More" appends older pages.
  async function load(token) {
    try {
      const reply = await call(SERVICE, 'ListRollouts', { page_size: 50, page_token: token });
      if (stopped) return;
      if (!token) fill(rows);
      for (const r of reply.rollouts || []) rows.append(listRow(r));
      if (!token && !(reply.rollouts || []).length) {
        rows.append(el('tr', {}, el('td', { colspan: 6, class: 'empty' }, 'No rollouts yet')));
      }
      nextToken = reply.next_page_token || '';
      more.hidden = !nextToken;
      listError.hidden = true;
    } catch (err) {
      showError(listError, err);
    }
  }
  // Once older pages are shown the list stops refreshing (it would drop them).
  let expanded = false;
  more.addEventListener('click', () => { expanded = true; load(nextToken); });
  load('');
  const timer = setInterval(() => { if (!expanded) load(''); }, POLL_MS);
  return () => { stopped = true; clearInterval(timer); };
}

function listRow(r) {
  const c = counters(r);
  const done = c.total - c.pending - c.queued - c.in_flight;
  return el('tr', { 'data-rollout': r.rollout_id },
    el('td', {}, el('a', { href: `#/rollout/${r.rollout_id}` }, r.rollout_id.slice(0, 8))),
    el('td', {}, enumName(r.action, 'ACTION_')),
    el('td', {}, stateBadge(r.state)),
    el('td', {}, stackedBar(c), el('span', { class: 'muted' }, ` ${done} / ${c.total}`)),
    el('td', {}, `${percent(r.failure_percent)} (limit ${percent(r.abort_failure_percent)})`),
    el('td', {}, time(r.created_at)));
}

// The start form: target, canary, rate and threshold. Omitted fields take the server's
// defaults; the server validates (novalidate: no browser bubble that vanishes) and its error
// is shown inline as it is, naming the field.
function startForm() {
  const error = el('p', { class: 'inline-error', hidden: true, 'data-testid': 'start-error' });
  const action = el('select', { name: 'action' },
    ...['RESTART_APP', 'REBOOT', 'SHUTDOWN'].map((a) => el('option', { value: `ACTION_${a}` }, a.toLowerCase())));
  const targetKind = el('select', { name: 'target-kind' },
    el('option', { value: 'all' }, 'all devices'),
    el('option', { value: 'group' }, 'group'),
    el('option', { value: 'clients' }, 'device UUIDs'));
  const targetValue = el('input', { name: 'target', placeholder: 'group name, or UUIDs separated by spaces or commas', size: 40 });
  const canaryKind = el('select', { name: 'canary-kind' },
    el('option', { value: '' }, 'default (5 %)'),
    el('option', { value: 'count' }, 'devices'),
    el('option', { value: 'percent' }, 'percent'));
  const canaryValue = el('input', { name: 'canary', type: 'number', min: 0, size: 6 });
  const rate = el('input', { name: 'max-per-minute', type: 'number', min: 1, placeholder: '60', size: 6 });
  const threshold = el('input', { name: 'abort-failure-percent', type: 'number', min: 0, max: 100, step: 'any', placeholder: 'server default', size: 8 });
  const min_finished = el('input', { name: 'min-finished', type: 'number', min: 1, placeholder: 'server default', size: 8 });
  const submit = el('button', { type: 'submit', 'data-testid': 'start-rollout' }, 'Start rollout');
  const syncTarget = () => { targetValue.disabled = targetKind.value === 'all'; };
  targetKind.addEventListener('change', syncTarget);
  syncTarget();

  const form = el('form', { class: 'panel start-rollout', novalidate: true },
    el('h2', {}, 'Start a rollout'),
    field('Action', action),
    field('Target', targetKind, targetValue),
    field('Canary', canaryKind, canaryValue),
    field('Max per minute', rate),
    field('Abort above failure %', threshold),
    field('… after finished', min_finished),
    el('div', {}, submit),
    error);
  guard(submit, 'operator');

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = { action: action.value, target: target(targetKind.value, targetValue.value) };
    if (canaryKind.value && canaryValue.value !== '') {
      body[canaryKind.value === 'count' ? 'canary_count' : 'canary_percent'] = Number(canaryValue.value);
    }
    if (rate.value !== '') body.max_per_minute = Number(rate.value);
    if (threshold.value !== '') body.abort_failure_percent = Number(threshold.value);
    if (min_finished.value !== '') body.min_finished = Number(min_finished.value);
    submit.disabled = true;
    try {
      const reply = await call(SERVICE, 'StartRollout', body);
      error.hidden = true;
      location.hash = `#/rollout/${reply.rollout.rollout_id}`;
    } catch (err) {
      showError(error, err);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function target(kind, value) {
  if (kind === 'group') return { group: value.trim() };
  if (kind === 'clients') return { clients: { client_uuids: value.split(/[\s,]+/).filter(Boolean) } };
  return { all_clients: true };
}

function field(label, ...inputs) {
  return el('label', { class: 'field' }, el('span', {}, label), ...inputs);
}

// ---------------------------------------------------------------------------------------
// Detail

function renderDetail(root, id) {
  fill(root);
  const error = el('p', { class: 'inline-error', hidden: true, 'data-testid': 'rollout-error' });
  const body = el('div', { class: 'rollout-detail' }, el('p', { class: 'muted' }, 'Loading…'));
  root.append(el('p', {}, el('a', { href: '#/rollouts' }, '← Rollouts')),
    el('h1', {}, 'Rollout ', el('code', {}, id)), error, body);

  const abort = abortControl(id, error, (r) => show(r));
  let latest = null;
  function show(rollout) {
    latest = rollout;
    fill(body, detail(rollout), abort.element);
    abort.update(rollout);
  }
  const terminal = () => latest && TERMINAL.includes(stateName(latest.state));

  // Live: the WatchRollout stream (a snapshot at most 4 times a second, reopened by watch()
  // after a server restart); it ends after the terminal snapshot. A refused or failed stream
  // falls back to polling GetRollout every POLL_MS, with the error shown.
  let timer = null;
  const poll = async () => {
    try {
      const reply = await call(SERVICE, 'GetRollout', { rollout_id: id });
      error.hidden = true;
      show(reply.rollout);
      if (terminal() && timer) clearInterval(timer);
    } catch (err) {
      showError(error, err);
    }
  };
  const close = watch(SERVICE, 'WatchRollout', { rollout_id: id }, (message) => {
    if (message && message.rollout) show(message.rollout);
  }, (err) => {
    showError(error, err);
    if (!terminal() && !timer) timer = setInterval(poll, POLL_MS);
  });
  return () => { close(); if (timer) clearInterval(timer); };
}

function detail(r) {
  const c = counters(r);
  const state = stateName(r.state);
  const rows = [
    ['Action', enumName(r.action, 'ACTION_')],
    ['Target', describeTarget(r)],
    ['Canary', `${r.canary_size || 0} devices${r.canary_finished_at ? `, finished ${time(r.canary_finished_at)}` : ''}`],
    ['Max per minute', String(r.max_per_minute || 0)],
    ['Started by', r.principal || '—'],
    ['Created', time(r.created_at)],
    ['Started', time(r.started_at)],
    ['Finished', time(r.finished_at)],
  ];
  const parts = [
    el('p', {}, 'State ', stateBadge(r.state)),
  ];
  if (state === 'aborted') {
    parts.push(el('p', { class: 'abort-reason', 'data-testid': 'abort-reason' },
      `Aborted (${enumName(r.abort_cause, 'ROLLOUT_ABORT_CAUSE_').replace('_', ' ')}): ${r.abort_reason || ''}`));
  }
  if (r.error) parts.push(el('p', { class: 'error' }, r.error));
  parts.push(
    el('dl', { class: 'facts' }, ...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)])),
    el('h2', {}, 'Progress'),
    stackedBar(c),
    el('table', { class: 'state-bars', 'data-testid': 'state-bars' },
      ...COUNTERS.map(([key, label]) => el('tr', { 'data-counter': key },
        el('th', {}, label),
        el('td', { class: 'bar-cell' }, bar(c[key], c.total, `seg-${key}`)),
        el('td', { class: 'count' }, `${c[key]} / ${c.total}`)))),
    el('h2', {}, 'Failure rate'),
    failureGauge(r, c));
  return el('div', {}, ...parts);
}

function describeTarget(r) {
  const t = r.target || {};
  if (t.group) return `group ${t.group}`;
  if (t.all_clients) return `all devices (${counters(r).total})`;
  return `${counters(r).total} listed devices`;
}

// The failure rate against the abort threshold: a bar filled to the rate, a mark at the
// threshold, and the numbers the server's abort rule uses.
function failureGauge(r, c) {
  const rate = Number(r.failure_percent || 0);
  const limit = Number(r.abort_failure_percent || 0);
  const finished = c.completed + c.failed + c.timed_out;
  const over = rate > limit && finished >= (r.min_finished || 0);
  return el('div', { class: 'failure-gauge', 'data-testid': 'failure-rate' },
    el('div', { class: 'gauge' },
      el('div', { class: `gauge-fill${over ? ' over' : ''}`, style: `width:${Math.min(rate, 100)}%` }),
      el('div', { class: 'gauge-mark', style: `left:${Math.min(limit, 100)}%`, title: `abort threshold ${percent(limit)}` })),
    el('p', {}, `${percent(rate)} failed of ${finished} finished; aborts above ${percent(limit)} once ${r.min_finished || 0} have finished`));
}

// Abort with a confirmation; only operators may press it. The reason is optional.
function abortControl(id, error, onAborted) {
  const reason = el('input', { name: 'abort-reason', placeholder: 'reason for aborting (optional)', size: 40 });
  const button = el('button', { type: 'button', class: 'danger', name: 'abort' }, 'Abort rollout…');
  const element = el('div', { class: 'abort' }, reason, ' ', button);
  guard(button, 'operator');
  button.addEventListener('click', async () => {
    const sure = await confirmDialog({
      title: 'Abort this rollout?',
      body: 'Commands not yet accepted are canceled and devices not yet reached get none. Commands already accepted run to their end.',
      confirmLabel: 'Abort rollout',
      danger: true,
    });
    if (!sure) return;
    button.disabled = true;
    try {
      const reply = await call(SERVICE, 'AbortRollout', { rollout_id: id, reason: reason.value });
      error.hidden = true;
      onAborted(reply.rollout);
    } catch (err) {
      showError(error, err);
    } finally {
      button.disabled = false;
    }
  });
  return {
    element,
    update(r) {
      element.hidden = TERMINAL.includes(stateName(r.state));
    },
  };
}

// ---------------------------------------------------------------------------------------
// Shared pieces

function counters(r) {
  const raw = r.counters || {};
  const c = { total: Number(raw.total || 0) };
  for (const [key] of COUNTERS) c[key] = Number(raw[key] || 0);
  return c;
}

function stateName(state) {
  return enumName(state, 'ROLLOUT_STATE_') || 'unspecified';
}

function stateBadge(state) {
  const name = stateName(state);
  return el('span', { class: `badge state-${name}`, 'data-testid': 'rollout-state' }, name);
}

// One bar with every state's share side by side.
function stackedBar(c) {
  const bar = el('div', { class: 'stacked', title: COUNTERS.map(([k, l]) => `${l}: ${c[k]}`).join(', ') });
  for (const [key] of COUNTERS) {
    if (c[key] > 0 && c.total > 0) {
      bar.append(el('div', { class: `seg seg-${key}`, style: `width:${(100 * c[key]) / c.total}%` }));
    }
  }
  return bar;
}

function bar(value, total, cls) {
  const width = total > 0 ? (100 * value) / total : 0;
  return el('div', { class: 'bar' }, el('div', { class: `seg ${cls}`, style: `width:${width}%` }));
}

function percent(value) {
  return `${Number(value || 0).toFixed(1)} %`;
}

// Disable `button` unless the token's role is at least `needed` (the server refuses anyway).
async function guard(button, needed) {
  if (!(await can(needed))) {
    button.disabled = true;
    button.title = `needs the ${needed} role`;
  }
}

// Show a refused or failed call inline, with its code.
function showError(node, err) {
  fill(node, `${err.code || 'ERROR'}: ${err.message}`);
  node.hidden = false;
}
