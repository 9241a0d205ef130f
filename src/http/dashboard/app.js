// Omoi supervisor dashboard: plain browser JavaScript modules, no build step.
// This file is the frame: sign-in (the token stays in localStorage and travels only in the
// Authorization header), the header (cluster summary, connection, live state, the views' links)
// and the router that shows one view at a time. Views live in views/, shared code in lib/.
import { api, guarded, onConnection, onTokenRefused, setToken, storedToken } from './lib/api.js';
import { $, el } from './lib/dom.js';
import { onLiveMode, startLive, stopLive } from './lib/live.js';
import { navViews, route, unmountAll } from './lib/router.js';
import { clearEvents } from './views/overview.js';
import './views/index.js';

const CLUSTER_POLL_MS = 3000;
let clusterTimer = null;

/**
 * A `#token=...` in the address (the demo prints one) is stored and leaves the address bar at once;
 * `&ticket=` becomes the ticket's route. Returns the token to use, if any.
 */
function initialToken() {
  const hash = new URLSearchParams(location.hash.startsWith('#/') ? '' : location.hash.slice(1));
  const fromHash = hash.get('token');
  const ticket = hash.get('ticket');
  if (fromHash || ticket) {
    history.replaceState(null, '', `${location.pathname}${location.search}${ticket ? `#/tickets/${encodeURIComponent(ticket)}` : '#/'}`);
  }
  if (fromHash) setToken(fromHash);
  return fromHash || storedToken();
}

function showLogin(message) {
  stopLive();
  clearTimeout(clusterTimer);
  unmountAll();
  setToken(null);
  $('views').hidden = true;
  $('forget-token').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message || '';
  setConnection('not connected', 'bad');
  $('token-input').focus();
}

function connect(token) {
  setToken(token);
  $('login').hidden = true;
  $('views').hidden = false;
  $('forget-token').hidden = false;
  clearEvents();
  startLive();
  const cluster = async () => {
    await guarded(refreshCluster);
    clusterTimer = setTimeout(cluster, CLUSTER_POLL_MS);
  };
  clearTimeout(clusterTimer);
  cluster();
  route();
}

function setConnection(text, kind) {
  const c = $('connection');
  c.textContent = text;
  c.className = `connection ${kind || ''}`;
}

function setLive(mode) {
  const live = $('live-state');
  live.textContent = mode;
  live.className = `live-state ${mode}`;
}

async function refreshCluster() {
  const c = await api('/api/cluster');
  const now = Date.now();
  const held = new Map();
  for (const l of c.leases) {
    if (l.node_id && Date.parse(l.expires_at) > now) held.set(l.node_id, (held.get(l.node_id) || 0) + 1);
  }
  $('cluster').replaceChildren(
    el('span', {}, `node ${c.node_id}`),
    ...c.nodes.map((n) => el('span', { class: `node status-${n.status}` }, `${n.id}: ${n.status}, ${held.get(n.id) || 0}/${c.partitions} partitions`)),
    el('span', {}, c.lag ? `lag ${c.lag.total}` : 'lag unknown'),
  );
}

// ---- start ---------------------------------------------------------------------------------

$('nav').replaceChildren(...navViews().map((v) => el('a', { href: v.pattern, dataset: { view: v.pattern } }, v.title)));
onConnection(setConnection);
onLiveMode(setLive);
onTokenRefused(showLogin);
window.addEventListener('hashchange', () => {
  if ($('login').hidden) route();
});
$('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const token = $('token-input').value.trim();
  if (!token) return;
  $('token-input').value = '';
  connect(token);
});
$('forget-token').addEventListener('click', () => showLogin(''));

const token = initialToken();
if (token) connect(token);
else showLogin('');
