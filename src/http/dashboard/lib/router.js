// Hash routes: `#/cluster`, `#/agents/:agent`, ... Each view is a module that calls registerView at
// import; the frame mounts the view whose pattern matches the address, and unmounts it on leaving.
import { $, el } from './dom.js';
import { onEvents } from './live.js';

const views = [];
let current = null;

/**
 * `view`: `{ pattern, title, nav, mount(root, params) }`. `mount` renders into `root` (a fresh
 * element) and may return `{ onEvents?(events), update?(params), unmount?() }`. `update` lets a view
 * stay mounted when only its parameters change (the overview selecting another ticket).
 */
export function registerView(view) {
  const names = [];
  const source = view.pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:([a-z_]+)/g, (_, name) => {
    names.push(name);
    return '([^/]+)';
  });
  views.push({ ...view, regex: new RegExp(`^${source}$`), names });
}

export const navViews = () => views.filter((v) => v.nav);

function match(hash) {
  const path = hash === '' || hash === '#' ? '#/' : hash;
  for (const view of views) {
    const m = view.regex.exec(path);
    if (m) {
      const params = {};
      view.names.forEach((name, i) => { params[name] = decodeURIComponent(m[i + 1]); });
      return { view, params };
    }
  }
  return null;
}

export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

/** Shows the view of the current address (an unknown address says so, with a way home). */
export function route() {
  const found = match(location.hash);
  if (current && found && current.view === found.view && current.mounted.update) {
    current.mounted.update(found.params);
    markNav(found.view);
    return;
  }
  if (current) {
    if (current.mounted.unmount) current.mounted.unmount();
    if (current.off) current.off();
    current.root.remove();
    current = null;
  }
  const root = el('section', { class: 'view', id: 'view' });
  $('views').append(root);
  if (!found) {
    root.append(el('p', { class: 'error', role: 'alert' }, `No page at ${location.hash}. `, el('a', { href: '#/' }, 'Back to the overview')));
    current = { view: null, root, mounted: {} };
    return;
  }
  document.title = `Omoi — ${found.view.title}`;
  const mounted = found.view.mount(root, found.params) || {};
  const off = mounted.onEvents ? onEvents((events) => mounted.onEvents(events)) : null;
  current = { view: found.view, root, mounted, off };
  markNav(found.view);
}

function markNav(view) {
  for (const a of document.querySelectorAll('nav.views a')) {
    if (a.dataset.view === view.pattern) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

/** Leaves the current view (sign-out). */
export function unmountAll() {
  if (!current) return;
  if (current.mounted.unmount) current.mounted.unmount();
  if (current.off) current.off();
  current.root.remove();
  current = null;
}
