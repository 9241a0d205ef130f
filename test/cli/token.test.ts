import t from 'tap';
import { withCluster, withNode } from '../harness/node.ts';
import { runOmoi } from './run-omoi.ts';

t.test('omoi token create/list/revoke and omoi audit, against a running node with its admin token', async (t) => {
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster);
  const admin = { OMOI_API_TOKEN: node.apiToken };
  const url = ['--url', node.httpUrl];

  const created = await runOmoi(['token', 'create', 'ci-bot', '--role', 'operator', ...url], admin);
  t.equal(created.code, 0, created.stderr);
  const token = /^(omoi_\S+)$/m.exec(created.stdout)?.[1];
  t.ok(token, 'the new token is printed on a line of its own');
  t.match(created.stdout, /not shown again/);

  const ticket = await fetch(`${node.httpUrl}/api/tickets`, { headers: { authorization: `Bearer ${token}` } });
  t.equal(ticket.status, 200, 'the new token works');

  const list = await runOmoi(['token', 'list', ...url], admin);
  t.equal(list.code, 0, list.stderr);
  t.match(list.stdout, /^NAME\s+ROLE\s+CREATED\s+BY\s+REVOKED/m);
  t.match(list.stdout, /^admin\s+admin\s+\S+\s+bootstrap\s+-$/m);
  t.match(list.stdout, /^ci-bot\s+operator\s+\S+\s+admin\s+-$/m);
  t.notOk(list.stdout.includes(token!), 'the list never shows a token');

  const duplicate = await runOmoi(['token', 'create', 'ci-bot', '--role', 'viewer', ...url], admin);
  t.equal(duplicate.code, 1);
  t.match(duplicate.stderr, /^omoi: a principal named "ci-bot" exists .*\[principal_exists\]$/m, 'a clear error with its code');
  const badRole = await runOmoi(['token', 'create', 'x', '--role', 'root', ...url], admin);
  t.equal(badRole.code, 2, 'an unknown role is a usage error');
  t.match(badRole.stderr, /Allowed choices are viewer, operator, admin/);

  const asOperator = await runOmoi(['token', 'list', ...url], { OMOI_API_TOKEN: token! });
  t.equal(asOperator.code, 1);
  t.match(asOperator.stderr, /admin role needed; ci-bot is operator \[forbidden\]/);

  const revoked = await runOmoi(['token', 'revoke', 'ci-bot', ...url], admin);
  t.equal(revoked.code, 0, revoked.stderr);
  t.match(revoked.stdout, /^revoked ci-bot/);
  t.equal((await fetch(`${node.httpUrl}/api/tickets`, { headers: { authorization: `Bearer ${token}` } })).status, 401, 'the revoked token is refused');
  const refused = await runOmoi(['token', 'list', ...url], { OMOI_API_TOKEN: token! });
  t.match(refused.stderr, /refused the API token/);

  const audit = await runOmoi(['audit', '--limit', '2', ...url], admin);
  t.equal(audit.code, 0, audit.stderr);
  const lines = audit.stdout.trim().split('\n');
  t.equal(lines.length, 3, 'a header and two rows');
  t.match(lines[1], /admin\s+admin\s+http\s+token\.revoke\s+ci-bot\s+accepted/, 'newest first: the revocation');
  t.match(lines[2], /admin\s+admin\s+http\s+token\.create\s+ci-bot\s+refused:principal_exists/);
  const json = JSON.parse((await runOmoi(['audit', '--command', 'token.create', '--json', ...url], admin)).stdout);
  t.same(json.map((r: any) => r.outcome), ['refused:principal_exists', 'accepted']);

  const noNode = await runOmoi(['token', 'list', '--url', 'http://127.0.0.1:1'], admin);
  t.equal(noNode.code, 1);
  t.match(noNode.stderr, /no node answering at http:\/\/127\.0\.0\.1:1/);
});
