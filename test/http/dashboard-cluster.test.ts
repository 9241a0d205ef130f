// The cluster, supervision and agent views in headless Chromium against real nodes: the cluster
// view, left open while a second node joins, shows that node and the partitions it takes without
// a reload; the supervision view shows what its actors did; the agent view is reached from the
// overview's agents table. Screenshots are kept as test artifacts: /tmp/omoi-dashboard-cluster.png
// (and -375.png, 375 px wide), /tmp/omoi-dashboard-supervision.png, /tmp/omoi-dashboard-agent.png.
import t from 'tap';
import { agentOfNode } from '../../src/actors/local-agent.ts';
import { recordEvent } from '../../src/persistence/index.ts';
import { launchChromium } from '../harness/browser.ts';
import { waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';

const SCREENSHOT = '/tmp/omoi-dashboard-cluster.png';
const SCREENSHOT_NARROW = '/tmp/omoi-dashboard-cluster-375.png';

t.test('the cluster view shows a node that joins, with its partitions, without a reload', async (t) => {
  const cluster = await withCluster(t);
  const first = await withNode(t, cluster, { nodeId: 'view-node-a' });
  await waitFor('the first node holds every partition', () => first.leases.owned().length === 4 || undefined);

  const browser = await launchChromium(t);
  const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  await page.goto(`${first.httpUrl}/#token=${encodeURIComponent(first.apiToken)}`);
  await page.locator('#tickets-empty').waitFor();

  // Keyboard: the header's link to the view is reachable and opens it.
  const link = page.locator('nav.views a[data-view="#/cluster"]');
  await link.focus();
  await page.keyboard.press('Enter');
  await page.waitForURL(/#\/cluster$/);
  await page.locator('#cluster-nodes tr[data-node="view-node-a"]').waitFor();
  const owners = () => page.locator('#cluster-partitions .cluster-partition').evaluateAll((cells) => cells.map((c) => (c as unknown as { dataset: Record<string, string> }).dataset.owner));
  await waitFor('all four partitions shown held by the first node', async () => (await owners()).join() === 'view-node-a,view-node-a,view-node-a,view-node-a' || undefined);
  t.match(await page.locator('#cluster-partitions .cluster-partition[data-partition="0"]').innerText(), /#0\s+view-node-a\s+e\d+ · lag \d+/, 'a partition shows its holder, epoch and lag');
  t.ok(await page.locator('#cluster-failovers-empty').isVisible(), 'no failovers yet, and it says so');
  await page.evaluate('window.__sameDocument = true');

  const second = await withNode(t, cluster, { nodeId: 'view-node-b' });
  await page.locator('#cluster-nodes tr[data-node="view-node-b"]').waitFor({ timeout: 20_000 });
  await waitFor('the partitions shown split two and two', async () => {
    const shown = await owners();
    return (shown.filter((o) => o === 'view-node-b').length === 2 && shown.filter((o) => o === 'view-node-a').length === 2) || undefined;
  }, { timeoutMs: 20_000 });
  const held = second.leases.owned();
  for (const p of held) t.equal(await page.locator(`#cluster-partitions .cluster-partition[data-partition="${p}"]`).getAttribute('data-owner'), 'view-node-b', `partition ${p} shown held by the new node`);
  t.match(await page.locator('#cluster-nodes tr[data-node="view-node-b"] .cluster-held').innerText(), new RegExp(`^2: ${held.join(', ')}$`), "the new node's row lists its partitions");
  t.equal(await page.evaluate('window.__sameDocument'), true, 'the page was not reloaded');
  const colours = await page.locator('#cluster-partitions .cluster-partition').evaluateAll((cells) => cells.map((c) => (c as unknown as { className: string }).className.match(/owner-\d/)?.[0]));
  t.equal(new Set(colours).size, 2, 'each holder has its colour');
  await page.screenshot({ path: SCREENSHOT, fullPage: true });

  // 375 px wide: nothing sticks out of the page.
  await page.setViewportSize({ width: 375, height: 800 });
  await page.waitForTimeout(200);
  t.ok(await page.evaluate('document.documentElement.scrollWidth <= 375'), 'readable at 375 px: no horizontal scrolling of the page');
  await page.screenshot({ path: SCREENSHOT_NARROW, fullPage: true });
  await page.setViewportSize({ width: 1300, height: 900 });

  // Supervision: nothing crashed — its empty state.
  await page.locator('nav.views a[data-view="#/supervision"]').click();
  await page.locator('#supervision-empty').waitFor();
  t.ok(await page.locator('#supervision-empty').isVisible(), 'the supervision view says nothing happened');
  // Then an actor crashes and escalates (rows as the node records them): the view shows them on its next reload.
  const supervision = (id: string, action: string, restarts: number) => recordEvent(first.db, id, {
    type: 'actor.supervision', time: new Date().toISOString(),
    payload: { actor: 'TicketActor', entity: 'T-crash', node_id: 'view-node-a', action, error: `boom ${id}`, restarts },
  });
  await supervision('sv-1', 'crashed', 1);
  await supervision('sv-2', 'escalated', 1);
  const group = page.locator('#supervision-groups tr[data-entity="T-crash"]');
  await group.waitFor({ timeout: 15_000 });
  t.match(await group.innerText(), /view-node-a\s+T-crash\s+TicketActor\s+1\s+0\s+1\s+boom sv-2/, 'per entity: crashed 1, restarted 0, escalated 1, the latest error');
  t.same(await page.locator('#supervision-events li').evaluateAll((li) => li.map((l) => (l as unknown as { dataset: Record<string, string> }).dataset.action)), ['escalated', 'crashed'], 'the events, newest first');
  t.notOk(await page.locator('#supervision-empty').isVisible(), 'no longer empty');
  await page.screenshot({ path: '/tmp/omoi-dashboard-supervision.png', fullPage: true });

  // The overview's agents table links to the agent view.
  const agentId = agentOfNode('view-node-a');
  await page.locator('nav.views a[data-view="#/"]').click();
  await page.locator(`#agents tr[data-agent="${agentId}"] a`).click();
  await page.waitForURL(new RegExp(`#/agents/${agentId}$`));
  await page.locator('#agent-title .badge').waitFor();
  t.match(await page.locator('#agent-title').innerText(), new RegExp(`Agent ${agentId}`));
  t.match(await page.locator('#agent-meta dd[data-field="last heartbeat"]').innerText(), /only the last one is kept|none yet/, 'says only the last heartbeat is kept');
  t.ok(await page.locator('#agent-current-empty').isVisible(), 'no attempt running, and it says so');
  await page.screenshot({ path: '/tmp/omoi-dashboard-agent.png', fullPage: true });

  // An agent that does not exist: the view says so (the browser logs the 404 itself).
  await page.evaluate('location.hash = "#/agents/nobody"');
  await page.locator('#agent-error', { hasText: 'No agent nobody.' }).waitFor();
  t.pass('an unknown agent: its error state');
  const expected404 = /Failed to load resource: the server responded with a status of 404/;
  problems.splice(0, problems.length, ...problems.filter((p) => !expected404.test(p)));

  t.same(problems, [], 'no errors in the page or its console');
});
