// Placeholder for the server page (w2 writes it): render(root, params) -> cleanup().
import { el } from './util.js';

export function render(root) {
  root.append(el('h1', {}, 'Server'), el('p', { class: 'muted' }, 'This page is coming.'));
  return () => {};
}
