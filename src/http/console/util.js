// Small DOM and formatting helpers shared by the pages. No state, no requests.

/** el('td', {class: 'mono', onclick: f}, 'text', child…) */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (value === true) node.setAttribute(key, '');
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** The enum value without its type prefix, lowercase: 'COMMAND_STATE_TIMED_OUT' → 'timed_out'. */
export function enumName(value, prefix) {
  if (!value) return '';
  const text = String(value);
  return (text.startsWith(prefix) ? text.slice(prefix.length) : text).toLowerCase();
}

/** An RFC 3339 timestamp as local date and time; '' when unset. */
export function time(ts) {
  if (!ts) return '';
  const date = new Date(ts);
  return Number.isNaN(date.getTime()) ? String(ts) : date.toLocaleString();
}

/** How long ago an RFC 3339 timestamp was: '12 s ago', '3 min ago'. */
export function ago(ts) {
  if (!ts) return 'never';
  const seconds = Math.round((Date.now() - new Date(ts).getTime()) / 1000);
  if (seconds < 0) return 'just now';
  if (seconds < 90) return `${seconds} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

/** Call `tick` now and then every `ms` until the returned stop() (pages poll at most every 5 s). */
export function every(ms, tick) {
  let timer = null;
  let stopped = false;
  const run = async () => {
    try { await tick(); } finally { if (!stopped) timer = setTimeout(run, ms); }
  };
  run();
  return () => { stopped = true; clearTimeout(timer); };
}

/** Replace the children of `node`. */
export function fill(node, ...children) {
  node.replaceChildren();
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

/** Ask for a confirmation in a modal dialog; resolves true on confirm. `check(text)` must
 * pass before the confirm button enables (e.g. typing the number of devices). */
export function confirmDialog({ title, body, confirmLabel = 'Confirm', expect = null, danger = false }) {
  return new Promise((resolve) => {
    const input = expect === null ? null : el('input', { name: 'confirm-input', autocomplete: 'off', inputmode: 'numeric' });
    const ok = el('button', { class: danger ? 'danger' : 'primary', name: 'confirm', disabled: expect !== null }, confirmLabel);
    const cancel = el('button', { name: 'cancel' }, 'Cancel');
    const dialog = el('dialog', { class: 'confirm' },
      el('h2', {}, title), el('p', {}, body),
      input && el('label', {}, `Type ${expect} to confirm: `, input),
      el('div', { class: 'dialog-actions' }, cancel, ok));
    const done = (value) => { dialog.close(); dialog.remove(); resolve(value); };
    if (input) input.addEventListener('input', () => { ok.disabled = input.value.trim() !== String(expect); });
    ok.addEventListener('click', () => done(true));
    cancel.addEventListener('click', () => done(false));
    dialog.addEventListener('cancel', (e) => { e.preventDefault(); done(false); });
    document.body.append(dialog);
    dialog.showModal();
    (input || ok).focus();
  });
}
