// The console's shell: the token box, the navigation and the hash router. Each page is a
// module exporting render(root, params) -> cleanup(); the router calls cleanup() before it
// renders the next page (closing that page's streams and timers).

import * as api from './api.js';
import { el, fill } from './util.js';
import * as fleet from './fleet.js';
import * as device from './device.js';
import * as rollouts from './rollouts.js';
import * as server from './server.js';

/** Hash routes: '#/device/<uuid>' → device.render(root, {uuid}). */
const ROUTES = [
  { pattern: /^#\/fleet$/, page: fleet, nav: 'fleet', params: () => ({}) },
  { pattern: /^#\/device\/([^/]+)$/, page: device, nav: 'fleet', params: (m) => ({ uuid: decodeURIComponent(m[1]) }) },
  { pattern: /^#\/rollouts$/, page: rollouts, nav: 'rollouts', params: () => ({}) },
  { pattern: /^#\/rollout\/([^/]+)$/, page: rollouts, nav: 'rollouts', params: (m) => ({ id: decodeURIComponent(m[1]) }) },
  { pattern: /^#\/server$/, page: server, nav: 'server', params: () => ({}) },
];

let cleanup = () => {};

async function route() {
  const hash = location.hash || '#/fleet';
  const found = ROUTES.map((r) => [r, hash.match(r.pattern)]).find(([, m]) => m);
  const root = document.getElementById('page');
  cleanup();
  cleanup = () => {};
  for (const link of document.querySelectorAll('[data-nav]')) {
    link.classList.toggle('active', Boolean(found) && link.dataset.nav === found[0].nav);
  }
  if (!found) {
    fill(root, el('p', {}, `No page at ${hash}. `, el('a', { href: '#/fleet' }, 'Go to the fleet.')));
    return;
  }
  const [r, match] = found;
  if (!(await signedIn(root))) return;
  fill(root);
  cleanup = r.page.render(root, r.params(match)) || (() => {});
}

/** Show who the token is; when the server refuses it (or wants one), ask for a token. */
async function signedIn(root) {
  const box = document.getElementById('identity');
  try {
    const me = await api.whoami();
    fill(box,
      me.auth ? el('span', {}, `${me.principal} · `, el('strong', { id: 'role' }, me.role)) : el('span', { class: 'muted' }, 'auth off'),
      me.auth && el('button', { name: 'sign-out', onclick: () => { api.setToken(''); route(); } }, 'Sign out'));
    return true;
  } catch (err) {
    fill(box);
    const input = el('input', { type: 'password', name: 'token', placeholder: 'bearer token', autocomplete: 'off' });
    const submit = (e) => { e.preventDefault(); api.setToken(input.value.trim()); route(); };
    fill(root, el('div', { class: 'card' },
      el('h1', {}, 'Sign in'),
      el('p', {}, 'This server checks tokens. Paste a token from its tokens file; it is kept for this browser tab only.'),
      api.token() && el('p', { class: 'error' }, `${err.code}: ${err.message}`),
      el('form', { onsubmit: submit }, input, ' ', el('button', { class: 'primary', type: 'submit' }, 'Sign in'))));
    input.focus();
    return false;
  }
}

window.addEventListener('hashchange', route);
route();
