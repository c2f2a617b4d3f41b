// Server page (#/server): health with the cluster section, restart history with phase
// durations, config reload history with diffs, the latest recovery report and, for admins, the
// audit log. Refreshed every 5 s. The restart button and the audit log are for admins (the
// policy table's roles, asked of the server through can()); the server decides either way.

import { call, can } from './api.js';
import { el, fill, time, enumName, confirmDialog } from './util.js';

const HEALTH = 'rebound.v1.HealthService';
const RESTART = 'rebound.v1.RestartService';
const CONFIG = 'rebound.v1.ConfigService';
const RECOVERY = 'rebound.v1.RecoveryService';
const POLL_MS = 5000;

export function render(root) {
  fill(root);
  const sections = {
    health: section('Health', 'health'),
    restarts: section('Restart history', 'restarts'),
    reloads: section('Config reloads', 'reloads'),
    recovery: section('Latest recovery report', 'recovery'),
    audit: section('Audit log', 'audit'),
  };
  root.append(el('h1', {}, 'Server'), restartControl(),
    ...Object.values(sections).map((s) => s.element));

  let stopped = false;
  // The audit log is for admins: other roles get a short line instead, and no request.
  const auditor = can('admin');
  const refresh = () => Promise.all([
    load(sections.health, () => call(HEALTH, 'GetHealth', {}), health),
    load(sections.restarts, () => call(RESTART, 'ListRestartEvents', { page_size: 20 }), restarts),
    load(sections.reloads, () => call(CONFIG, 'ListReloadEvents', { page_size: 20 }), reloads),
    load(sections.recovery, () => call(RECOVERY, 'GetRecoveryReport', {}), recovery),
    auditor.then((admin) => (admin
      ? load(sections.audit, () => call(RECOVERY, 'ListAuditEvents', { page_size: 50 }), audit)
      : adminsOnly(sections.audit))),
  ]);

  // Each section shows its own error; a section the token may not read is hidden with a note.
  async function load(s, fetch, view) {
    try {
      const reply = await fetch();
      if (stopped) return;
      s.error.hidden = true;
      fill(s.body);
      s.body.append(view(reply));
    } catch (err) {
      if (stopped) return;
      if (err.code === 'PERMISSION_DENIED') {
        fill(s.body);
        s.body.append(el('p', { class: 'muted', 'data-testid': `${s.name}-denied` },
          'Hidden: this token may not read it.'));
        s.error.hidden = true;
      } else {
        showError(s.error, err);
      }
    }
  }
  refresh();
  const timer = setInterval(refresh, POLL_MS);
  return () => { stopped = true; clearInterval(timer); };
}

// A section only admins may read, for another role: its heading and one line, no table.
function adminsOnly(s) {
  fill(s.body, el('p', { class: 'muted', 'data-testid': `${s.name}-admins-only` }, 'Admins only.'));
  s.error.hidden = true;
}

function section(title, name) {
  const error = el('p', { class: 'inline-error', hidden: true });
  const body = el('div', {}, el('p', { class: 'muted' }, 'Loading…'));
  const element = el('section', { class: 'panel', 'data-testid': `server-${name}` },
    el('h2', {}, title), error, body);
  return { name, element, error, body };
}

function health(h) {
  const status = enumName(h.status, 'SERVING_STATUS_');
  const parts = [
    facts([
      ['Status', el('span', { class: `badge status-${status}`, 'data-testid': 'serving' }, status)],
      ['Generation', el('span', { 'data-testid': 'generation' }, String(h.generation || 0))],
      ['PID', String(h.pid || '')],
      ['Uptime', duration(h.uptime)],
      ['Started', time(h.started_at)],
      ['Version', `${h.version || ''} (${(h.git_sha || '').slice(0, 12)})`],
    ]),
    table(['Component', 'Status', 'Detail'], (h.components || []).map((c) =>
      [c.name, enumName(c.status, 'COMPONENT_STATUS_'), c.detail || ''])),
  ];
  const cluster = h.cluster;
  if (cluster && cluster.replica_id) {
    parts.push(el('h3', {}, 'Cluster'),
      facts([
        ['Replica', cluster.replica_id],
        ['Leader', cluster.leader ? 'this replica' : 'another replica'],
        ['Lease epoch', String(cluster.lease_epoch || 0)],
      ]),
      table(['Replica', 'Listen', 'Leader', 'PID', 'Generation', 'Heartbeat'],
        (cluster.replicas || []).map((r) => [r.replica_id, r.listen || '', r.leader ? 'yes' : '',
          String(r.pid || ''), String(r.generation || 0), time(r.heartbeat_at)])));
  }
  return el('div', {}, ...parts);
}

function restarts(reply) {
  const events = reply.events || [];
  if (!events.length) return el('p', { class: 'muted' }, 'No restarts recorded');
  return table(['Requested', 'Mode', 'Reason', 'Outcome', 'Generation', 'PID', 'Duration', 'Phases'],
    events.map((e) => [
      time(e.requested_at),
      enumName(e.mode, 'RESTART_MODE_'),
      enumName(e.reason, 'RESTART_REASON_'),
      outcome(e),
      `${e.generation_before || 0} → ${e.generation_after || 0}`,
      `${e.old_pid || ''} → ${e.new_pid || ''}`,
      duration(e.duration),
      phases(e.phase_timings || []),
    ]), 'restart-events');
}

function outcome(e) {
  const name = enumName(e.outcome, 'RESTART_OUTCOME_');
  const text = name || enumName(e.phase, 'RESTART_PHASE_');
  return el('span', { title: e.error || '' }, text, e.error ? el('div', { class: 'error' }, e.error) : '');
}

// Phase durations as one proportional bar with a label per phase.
function phases(timings) {
  const ms = timings.map((t) => seconds(t.duration) * 1000);
  const total = ms.reduce((a, b) => a + b, 0) || 1;
  return el('div', { class: 'phases' },
    el('div', { class: 'stacked' }, ...timings.map((t, i) =>
      el('div', { class: `seg phase-${i % 6}`, style: `width:${(100 * ms[i]) / total}%`,
        title: `${enumName(t.phase, 'RESTART_PHASE_')}: ${ms[i].toFixed(1)} ms` }))),
    el('ul', { class: 'phase-list' }, ...timings.map((t, i) =>
      el('li', {}, `${enumName(t.phase, 'RESTART_PHASE_')} ${ms[i].toFixed(1)} ms`))));
}

function reloads(reply) {
  const events = reply.events || [];
  if (!events.length) return el('p', { class: 'muted' }, 'No reloads recorded');
  return table(['Started', 'Result', 'Trigger', 'By', 'Version', 'Duration', 'Changes'],
    events.map((e) => [
      time(e.started_at),
      el('span', {}, enumName(e.result, 'RELOAD_RESULT_'),
        e.error ? el('div', { class: 'error' }, e.error) : ''),
      enumName(e.trigger, 'RELOAD_TRIGGER_'),
      e.principal || '',
      `${e.version_before || 0} → ${e.version_after || 0}`,
      duration(e.duration),
      diff(e.changes || []),
    ]), 'reload-events');
}

// A reload's changed keys as a small diff: - old, + new, per dotted path.
function diff(changes) {
  if (!changes.length) return '';
  return el('ul', { class: 'diff' }, ...changes.map((c) => el('li', {},
    el('code', {}, c.path),
    c.restart_required ? el('span', { class: 'badge' }, 'restart required') : '',
    c.old_value ? el('div', { class: 'del' }, `- ${c.old_value}`) : '',
    c.new_value ? el('div', { class: 'add' }, `+ ${c.new_value}`) : '')));
}

function recovery(reply) {
  const r = reply.report || {};
  const snapshot = r.snapshot || {};
  return el('div', {},
    facts([
      ['Previous run', enumName(r.previous_run, 'PREVIOUS_RUN_')],
      ['Started', time(r.started_at)],
      ['Took', duration(r.duration)],
      ['PID / generation', `${r.pid || ''} / ${r.generation || 0}`],
      ['Snapshot', `${enumName(snapshot.snapshot, 'SNAPSHOT_OUTCOME_')}${snapshot.checked ? (snapshot.consistent ? ', consistent' : ', inconsistent') : ''}`],
    ]),
    table(['Category', 'Count', 'Action'], (r.categories || []).map((c) =>
      [c.name, String(c.count || 0), c.action || ''])),
    ...(r.warnings || []).map((w) => el('p', { class: 'warning' }, w)));
}

function audit(reply) {
  const events = reply.events || [];
  if (!events.length) return el('p', { class: 'muted' }, 'No audit events');
  return table(['When', 'Principal', 'Role', 'Call', 'Outcome', 'Code', 'Message'],
    events.map((e) => [time(e.occurred_at), e.principal || '', e.role || '',
      (e.rpc || '').replace('/rebound.v1.', ''), enumName(e.outcome, 'AUDIT_OUTCOME_'),
      e.code || '', e.message || '']), 'audit-events');
}

// The restart button with its confirmation (admins only; the server refuses others).
function restartControl() {
  const error = el('p', { class: 'inline-error', hidden: true, 'data-testid': 'restart-error' });
  const result = el('p', { class: 'muted', hidden: true, 'data-testid': 'restart-started' });
  const button = el('button', { type: 'button', class: 'danger', name: 'restart' }, 'Hot restart…');
  (async () => {
    if (!(await can('admin'))) {
      button.disabled = true;
      button.title = 'needs the admin role';
    }
  })();
  button.addEventListener('click', async () => {
    const sure = await confirmDialog({
      title: 'Hot-restart the server?',
      body: 'A successor process takes over the listeners; in-flight calls finish and streams reconnect.',
      confirmLabel: 'Restart',
      danger: true,
    });
    if (!sure) return;
    button.disabled = true;
    try {
      const reply = await call(RESTART, 'Restart', {});
      error.hidden = true;
      fill(result, `Restart ${reply.restart_id} started`);
      result.hidden = false;
    } catch (err) {
      showError(error, err);
    } finally {
      button.disabled = false;
    }
  });
  return el('div', { class: 'server-actions' }, button, result, error);
}

// Show a refused or failed call inline, with its code.
function showError(node, err) {
  fill(node, `${err.code || 'ERROR'}: ${err.message}`);
  node.hidden = false;
}

// ---------------------------------------------------------------------------------------

function facts(pairs) {
  return el('dl', { class: 'facts' }, ...pairs.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}

function table(headers, rows, testid) {
  return el('table', testid ? { 'data-testid': testid } : {},
    el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', {}, h)))),
    el('tbody', {}, ...rows.map((cells) => el('tr', {}, ...cells.map((c) => el('td', {}, c))))));
}

// A proto3 JSON duration ("1.5s") in seconds.
function seconds(d) {
  return d ? Number(String(d).replace(/s$/, '')) : 0;
}

function duration(d) {
  const s = seconds(d);
  if (!d) return '—';
  if (s < 1) return `${(s * 1000).toFixed(1)} ms`;
  if (s < 120) return `${s.toFixed(2)} s`;
  const m = Math.floor(s / 60);
  return m < 120 ? `${m} min ${Math.floor(s % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}
