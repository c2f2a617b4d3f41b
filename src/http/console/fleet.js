// The fleet page (in progress): render(root, params) -> cleanup().
import { el } from './util.js';

export function render(root) {
  root.append(el('h1', {}, 'Fleet'));
  return () => {};
}
