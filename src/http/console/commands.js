// Issuing device commands from the console: the action picker and Issue button that the
// fleet and device pages share, the confirmation (a bulk action asks the operator to type
// the number of devices), and one IssueCommand call per device. The server decides
// everything (roles, lockouts, rate limits); refusals come back per device, to be shown
// beside that device.

import * as api from './api.js';
import { el, confirmDialog } from './util.js';

/** [enum value, label] of every action an operator can issue. */
export const ACTIONS = [
  ['ACTION_RESTART_APP', 'restart_app'],
  ['ACTION_REBOOT_HOST', 'reboot'],
  ['ACTION_SHUTDOWN_HOST', 'shutdown'],
];

function label(action) {
  return (ACTIONS.find(([value]) => value === action) || [action, action])[1];
}

/**
 * Confirm, then issue `action` to every device of `uuids`. Resolves null when the operator
 * cancels, else a Map uuid → {command} or {error: ApiError}.
 */
export async function issue(uuids, action) {
  if (uuids.length === 0) return new Map();
  const what = label(action);
  const confirmed = uuids.length === 1
    ? await confirmDialog({ title: `${what} one device?`, body: `Send ${what} to ${uuids[0]}.`, confirmLabel: `Send ${what}`, danger: true })
    : await confirmDialog({
      title: `${what} ${uuids.length} devices?`,
      body: `This sends ${what} to each of the ${uuids.length} selected devices.`,
      confirmLabel: `Send ${what} to ${uuids.length} devices`,
      expect: uuids.length,
      danger: true,
    });
  if (!confirmed) return null;
  const results = new Map();
  await Promise.all(uuids.map(async (uuid) => {
    const request = { client_uuid: uuid, action, reason: 'issued from the console' };
    if (globalThis.crypto && crypto.randomUUID) request.command_id = crypto.randomUUID();
    try {
      const answer = await api.call('ClientCommandService', 'IssueCommand', request);
      results.set(uuid, { command: answer.command });
    } catch (error) {
      results.set(uuid, { error });
    }
  }));
  return results;
}

/**
 * The command bar: an action picker and an Issue button for the devices `selected()`
 * returns. `onResults(results)` gets issue()'s map. Disabled (and says why) unless the
 * server says the token may act on devices.
 */
export function commandBar({ selected, onResults, single = false }) {
  const picker = el('select', { name: 'action' }, ACTIONS.map(([value, text]) => el('option', { value }, text)));
  const button = el('button', { class: 'primary', name: 'issue', disabled: true }, single ? 'Issue' : 'Issue to selected');
  const note = el('span', { class: 'muted' });
  const bar = el('div', { class: 'commandbar' }, picker, button, note);
  let allowed = false;
  const refresh = () => {
    const count = selected().length;
    button.disabled = !allowed || count === 0;
    if (!single) button.textContent = `Issue to selected (${count})`;
  };
  button.addEventListener('click', async () => {
    const uuids = selected();
    button.disabled = true;
    try {
      const results = await issue(uuids, picker.value);
      if (results) onResults(results);
    } finally {
      refresh();
    }
  });
  api.can('operator').then((ok) => {
    allowed = ok;
    if (!ok) note.textContent = 'your role can only view: commands need operator';
    refresh();
  });
  bar.refresh = refresh;
  return bar;
}

/** A result of issue() as a short line: the new command's state, or the error inline. */
export function resultLine(result) {
  if (!result) return null;
  if (result.error) return el('span', { class: 'inline-error', dataset: { code: result.error.code } }, `${result.error.code}: ${result.error.message}`);
  const c = result.command;
  return el('span', { class: 'muted' }, 'issued ', el('a', { href: `#/device/${c.client_uuid}` }, c.command_id.slice(0, 8)));
}
