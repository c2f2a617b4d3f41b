// The device page: its state (process, boot id, heartbeat, MQTT reconnects and last
// disconnect, group, lockout), commands to it, and its command history, each command a
// timeline of its states with their times. Live: the command history follows
// WatchCommands (server-sent events); the device's state is polled every 5 s.

import * as api from './api.js';
import { el, enumName, time, ago, every, fill } from './util.js';
import { commandBar, resultLine } from './commands.js';

const HISTORY = 20;
const POLL_MS = 5000;
const TERMINAL_OK = new Set(['completed']);
const TERMINAL_BAD = new Set(['failed', 'timed_out', 'expired', 'canceled', 'rejected']);

export function render(root, { uuid }) {
  const facts = el('dl', { class: 'facts', id: 'device-facts' });
  const history = el('div', { id: 'command-history' });
  const result = el('div', { class: 'command-result' });
  const status = el('p', { class: 'error' });
  const bar = commandBar({
    selected: () => [uuid],
    single: true,
    onResults: (results) => { fill(result, resultLine(results.get(uuid))); loadHistory(); },
  });
  root.append(
    el('p', {}, el('a', { href: '#/fleet' }, '← Fleet')),
    el('h1', { class: 'mono' }, uuid),
    status,
    el('div', { class: 'panels' },
      el('section', { class: 'card' }, el('h2', {}, 'State'), facts),
      el('section', { class: 'card' }, el('h2', {}, 'Commands'), bar, result)),
    el('section', { class: 'card' }, el('h2', {}, 'Command history'), history));

  const loadClient = async () => {
    try {
      const { client } = await api.call('ClientCommandService', 'GetClient', { client_uuid: uuid });
      fill(facts, describe(client));
      status.textContent = '';
    } catch (err) {
      status.textContent = `${err.code}: ${err.message}`;
    }
  };
  const loadHistory = async () => {
    try {
      const { commands } = await api.call('ClientCommandService', 'ListCommands',
        { client_uuid: uuid, include_events: true, page_size: HISTORY });
      fill(history, commands.length ? commands.map(commandCard) : el('p', { class: 'muted' }, 'No commands yet.'));
    } catch (err) {
      fill(history, el('p', { class: 'error' }, `${err.code}: ${err.message}`));
    }
  };
  let pending = null;
  const soon = () => { if (pending === null) pending = setTimeout(() => { pending = null; loadHistory(); }, 200); };
  const stopPoll = every(POLL_MS, loadClient);
  loadHistory();
  const closeWatch = api.watch('ClientCommandService', 'WatchCommands', { client_uuid: uuid }, soon,
    (err) => { status.textContent = `live updates stopped: ${err.code}: ${err.message}`; });
  return () => { stopPoll(); closeWatch(); clearTimeout(pending); };
}

function describe(c) {
  const lockout = c.lockout || {};
  const rows = [
    ['group', c.group || '—'],
    ['presence', `${enumName(c.presence, 'PRESENCE_')} since ${time(c.presence_changed_at) || '—'}`],
    ['process status', enumName(c.process_status, 'PROCESS_STATUS_')],
    ['crash state', enumName(c.crash_state, 'CRASH_STATE_') + (c.needs_attention ? ' (needs attention)' : '')],
    ['boot id', el('span', { class: 'mono', id: 'boot-id' }, c.boot_id || '—')],
    ['last heartbeat', `${ago(c.last_health_at)} (${time(c.last_health_at) || 'never'})`],
    ['app version', c.app_version || '—'],
    ['MQTT reconnects', el('span', { id: 'reconnects' }, String(c.mqtt_reconnect_count))],
    ['last disconnect', time(c.mqtt_last_disconnect_at) || 'never'],
    ['service failed', c.service_failed_unit ? `${c.service_failed_unit} at ${time(c.service_failed_at)}` : 'no'],
    ['lockout', `${lockout.commands_in_window ?? 0} of ${lockout.max ?? '?'} in window`
      + (lockout.locked_out ? `, locked out until ${time(lockout.next_allowed_at)}` : '')],
    ['capability tier', enumName(c.capability_tier, 'CAPABILITY_TIER_')],
    ['registered', time(c.registered_at)],
  ];
  return rows.flatMap(([name, value]) => [el('dt', {}, name), el('dd', {}, value)]);
}

/** One command: what, its state, and the timeline of its transitions. */
function commandCard(c) {
  const state = enumName(c.state, 'COMMAND_STATE_');
  const steps = (c.events || []).map((e) => {
    const to = enumName(e.to_state, 'COMMAND_STATE_');
    const cls = TERMINAL_OK.has(to) ? 'terminal-ok' : TERMINAL_BAD.has(to) ? 'terminal-bad' : '';
    return el('li', { class: cls, dataset: { state: to }, title: e.detail || '' },
      to, el('time', { datetime: e.occurred_at }, new Date(e.occurred_at).toLocaleTimeString()));
  });
  const error = c.error_code ? el('span', { class: 'error' }, ` ${c.error_code}: ${c.error_message}`) : null;
  return el('div', { class: 'command', dataset: { command: c.command_id, state } },
    el('strong', {}, enumName(c.action, 'ACTION_')), ' ',
    el('span', { class: 'badge' }, state), ' ',
    el('span', { class: 'muted mono' }, c.command_id), ' ',
    el('span', { class: 'muted' }, `issued ${time(c.issued_at)} by ${c.principal || 'unknown'}`),
    error,
    el('ol', { class: 'timeline' }, steps));
}
