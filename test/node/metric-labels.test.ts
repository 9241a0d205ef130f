import t from 'tap';
import { errorCodeLabel, httpMethodLabel, httpRouteLabel, messageTypeLabel } from '../../src/metrics.ts';
import { lookup } from '../../src/protocol/index.ts';
import { waitFor } from '../harness/index.ts';
import { withClient, withCluster, withNode } from '../harness/node.ts';

/** Every `name{labels}` series of the metrics text that belongs to one of `metrics`. */
function series(text: string, metrics: string[]): string[] {
  return text.split('\n').filter((line) => metrics.some((m) => line.startsWith(`${m}{`))).map((line) => line.slice(0, line.lastIndexOf(' ')));
}

const LABELLED = ['omoi_messages_handled_total', 'omoi_redeliveries_total', 'omoi_dead_letters_total', 'omoi_handler_seconds_count', 'omoi_http_requests_total'];

t.test('junk message types, HTTP paths and methods create no new label values', async (t) => {
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster, { maxDeliver: 2 });
  const client = await withClient(t, cluster);
  const deadLetters = async () => ((await node.db.em().getConnection().execute('select count(*)::int as n from omoi_dead_letter')) as Array<{ n: number }>)[0]!.n;
  const scrape = async () => (await fetch(`${node.httpUrl}/metrics`)).text();

  /** One round of junk: unknown types on the ingress and a partition subject, unknown paths and a rare method. */
  const junk = async (round: number) => {
    const before = await deadLetters();
    for (let i = 0; i < 5; i++) {
      client.publish(`omoi.in.junk${round}x${i}.kind`, '{}');
      client.publish(`omoi.part.0.junk${round}x${i}.kind`, '{"not":"an envelope"}');
    }
    await waitFor(`round ${round}: ten dead letters`, async () => (await deadLetters()) >= before + 10, { timeoutMs: 30_000 });
    for (let i = 0; i < 5; i++) {
      await fetch(`${node.httpUrl}/junk-${round}-${i}?q=${i}`).then((r) => r.arrayBuffer());
      await fetch(`${node.httpUrl}/api/junk-${round}/${i}`).then((r) => r.arrayBuffer());
      await fetch(`${node.httpUrl}/healthz`, { method: 'PROPFIND' }).then((r) => r.arrayBuffer());
    }
  };

  await scrape(); // its own request is counted after it is answered
  await junk(1);
  const first = series(await scrape(), LABELLED);
  t.ok(first.length > 0, `labelled series exist (${first.length})`);
  t.notOk(first.some((s) => /junk/.test(s)), 'no junk type or path is a label value');
  t.ok(first.some((s) => s.startsWith('omoi_messages_handled_total{') && s.includes('type="other"')), 'unknown types are counted as other');
  t.ok(first.some((s) => s.includes('route="unmatched"')), 'unknown paths are counted as unmatched');
  t.ok(first.some((s) => s.includes('method="other"')), 'a rare method is counted as other');

  await junk(2);
  const second = series(await scrape(), LABELLED);
  // The node's own background messages (an `agent.wake`, say) may add a series of a registered
  // type between the rounds; junk may add none.
  const registered = (line: string) => { const type = /type="([^"]+)"/.exec(line)?.[1]; return type !== undefined && type !== 'other' && lookup(type) !== undefined; };
  t.same(second.filter((s) => !first.includes(s) && !registered(s)), [], 'a second round of different junk adds no series');
});

t.test('the label functions keep only known values', async (t) => {
  t.equal(messageTypeLabel('ticket.create'), 'ticket.create', 'a registered type is itself');
  t.equal(messageTypeLabel('ticket.create.x'), 'other');
  t.equal(messageTypeLabel(''), 'other');
  t.equal(errorCodeLabel('schema_violation'), 'schema_violation');
  t.equal(errorCodeLabel('Some Message with "quotes"'), 'other');
  t.equal(httpMethodLabel('GET'), 'GET');
  t.equal(httpMethodLabel('PROPFIND'), 'other');
  t.equal(httpRouteLabel('/api/tickets/:id'), '/api/tickets/:id');
  t.equal(httpRouteLabel(undefined), 'unmatched');
});
