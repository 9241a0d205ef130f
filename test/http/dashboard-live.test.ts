import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import t from 'tap';
import { makeRepo, waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { task } from '../flow/helpers.ts';
import { openStream } from './sse-client.ts';

const CHROMIUM = '/usr/bin/chromium';

t.test('the dashboard lists a running ticket\'s events live from the event stream, the token never in a URL', async (t) => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: the dashboard test needs Debian's chromium (apt-get install chromium)`);
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  const urls: string[] = [];
  const problems: string[] = [];
  page.on('request', (r) => urls.push(r.url()));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (err) => problems.push(err.message));

  // Signed in through the form: the token is typed, never in the address.
  await page.goto(node.httpUrl);
  await page.fill('#token-input', node.apiToken);
  await page.click('#login-form button[type=submit]');
  await page.locator('#live-state', { hasText: 'live' }).waitFor();

  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  await node.submit('ticket.create', { ticket_id: 'LIVE1', title: 'live', repository: repo.dir, base_branch: 'main', tasks: [task('A', 'true'), task('B', 'true', { depends_on: ['A'] })] });
  await page.locator('#events li', { hasText: 'ticket.completed' }).filter({ hasText: 'LIVE1' }).waitFor({ timeout: 30_000 });

  const items = await page.locator('#events li[data-ticket="LIVE1"] .type').allInnerTexts();
  t.equal(items.at(-1), 'ticket.created', 'the ticket\'s first event is the oldest listed');
  t.equal(items[0], 'ticket.completed', 'its last on top');
  const messages = await page.locator('#events li[data-ticket="LIVE1"]').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-message')));
  t.equal(new Set(messages).size, messages.length, 'each event listed once');
  t.equal(await page.locator('#live-state').textContent(), 'live', 'the indicator says live');

  const polls = urls.filter((u) => new URL(u).pathname === '/api/events');
  t.ok(polls.length <= 1, `the events came over the stream, not by polling (${polls.length} poll of /api/events: the one filling the list on open)`);
  t.ok(urls.some((u) => new URL(u).pathname === '/api/events/stream'), 'the stream was opened');
  t.same(urls.filter((u) => u.includes(node.apiToken) || /token=/.test(u)), [], 'no request carries the token in its URL');
  t.same(problems, [], 'no console errors');

  // A stream that ends (a proxy's timeout, the node's restart) is reopened with the Last-Event-ID
  // of the last event read. After a reload the first stream is answered by real frames read from
  // the node, up to LIVE1's ticket.created, and then ends.
  const history = await openStream(node.httpUrl, '/api/events/stream', { authorization: `Bearer ${node.apiToken}`, 'last-event-id': '0' });
  t.teardown(() => history.close());
  await history.until((es) => es.some((e) => e.event === 'ticket.created' && e.data.includes('"LIVE1"')), 'LIVE1 created, read back');
  history.close();
  const cut = history.events.findIndex((e) => e.event === 'ticket.created' && e.data.includes('"LIVE1"'));
  const lastId = history.events[cut]!.id!;
  const body = history.events.slice(0, cut + 1).map((e) => `id: ${e.id}\nevent: ${e.event}\ndata: ${e.data}\n\n`).join('');
  const streamHeaders: Array<Record<string, string>> = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === '/api/events/stream') streamHeaders.push(r.headers());
  });
  await page.route('**/api/events/stream', (route) => route.fulfill({ status: 200, contentType: 'text/event-stream', body }), { times: 1 });
  await page.reload();
  await waitFor('the stream reopened', async () => streamHeaders.length >= 2 || undefined);
  t.notOk(streamHeaders[0]!['last-event-id'], 'the first stream after a reload starts without a position');
  t.equal(streamHeaders[1]!['last-event-id'], lastId, 'the next one resumes after the last event read');
  t.ok(streamHeaders.every((h) => h.authorization === `Bearer ${node.apiToken}`), 'each with the token in its header');
  await page.locator('#live-state', { hasText: /^live$/ }).waitFor({ timeout: 15_000 });
  const again = await page.locator('#events li[data-ticket="LIVE1"]').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-message')));
  t.equal(new Set(again).size, again.length, 'still each event once');
  t.same(urls.filter((u) => u.includes(node.apiToken)), [], 'still no token in any URL');
  t.same(problems, [], 'still no console errors');
});
