import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { generateOpenApiDocument, generateProtocolDoc, INPUT_ERROR_CODES, PROTOCOL_DOC_PATH } from '../../src/cli/index.ts';
import { commands, decodeIngress, events, MAX_MESSAGE_BYTES, ProtocolError, REGISTRY, Subjects } from '../../src/protocol/index.ts';
import { tempDir } from '../harness/index.ts';
import { runOmoi, runOmoiHere } from './run-omoi.ts';

t.test('the committed docs/protocol.md equals a fresh generation (run `omoi docs` after changing the protocol)', async (t) => {
  const committed = await readFile(PROTOCOL_DOC_PATH, 'utf8');
  t.ok(committed === generateProtocolDoc(), 'docs/protocol.md is up to date');
});

t.test('every message type of the registry is documented with its subject, schema and example', async (t) => {
  const doc = generateProtocolDoc();
  t.ok(REGISTRY.length > 0);
  const sections = doc.split(/^### /m).slice(1);
  for (const def of REGISTRY) {
    const section = sections.find((s) => s.startsWith(`\`${def.type}\`\n`));
    if (!t.ok(section, `${def.type} has a section`)) continue;
    t.ok(section!.includes(def.description), `${def.type}: description`);
    t.ok(section!.includes(JSON.stringify(def.payload, null, 2)), `${def.type}: JSON Schema`);
  }
  for (const def of commands().filter((d) => d.ingress)) {
    const example = `nats pub ${Subjects.ingress(def.type)} '${JSON.stringify(def.example).replace(/'/g, `'\\''`)}'`;
    t.ok(doc.includes(example), `${def.type}: a nats pub example`);
    t.ok(doc.includes(`**Handled by:** \`${def.handledBy}\``), `${def.type}: its handler`);
  }
  for (const def of events().filter((d) => d.type !== 'error.rejected')) {
    t.ok(doc.includes(`nats sub '${Subjects.event(def.type)}'`), `${def.type}: a nats sub example`);
  }
  t.ok(doc.includes(`nats sub 'omoi.errors.*'`), 'error.rejected: watched on omoi.errors');
});

t.test('the contents list every section once, in the order of the document', async (t) => {
  const doc = generateProtocolDoc();
  const body = doc.slice(doc.indexOf('\n## Contents'));
  const listed = [...body.slice(0, body.indexOf('\n## ', 5)).matchAll(/^- \[([^\]]+)\]/gm)].map((m) => m[1]);
  const sections = [...body.matchAll(/^## (.+)$/gm)].map((m) => m[1]).filter((h) => h !== 'Contents');
  t.same(listed, sections, 'the top-level entries of the contents are the sections, in order');
});

t.test('the documented examples are accepted by the codec as written', async (t) => {
  for (const def of commands().filter((d) => d.ingress)) {
    t.doesNotThrow(() => decodeIngress(Subjects.ingress(def.type), JSON.stringify(def.example), 'doc-example'), def.type);
  }
});

t.test('the documented input error codes are the ones the codec produces', async (t) => {
  const documented = new Set(INPUT_ERROR_CODES.map((c) => c.code));
  const produced = (subject: string, body: string) => {
    try {
      decodeIngress(subject, body, undefined);
    } catch (err) {
      if (err instanceof ProtocolError) return err.code;
      throw err;
    }
    return 'accepted';
  };
  const cases = [
    produced('omoi.in.ticket.cancel', 'x'.repeat(MAX_MESSAGE_BYTES + 1)),
    produced('omoi.in.ticket.cancel', '{oops'),
    produced('omoi.in.ticket.cancel', JSON.stringify({ type: 'ticket.cancel', payload: {}, extra: 1 })),
    produced('omoi.in.ticket.explode', '{}'),
    produced('omoi.in.ticket.cancel', '{"ticket_id": 5}'),
  ];
  t.same(cases, ['payload_too_large', 'malformed_json', 'invalid_envelope', 'unknown_type', 'schema_violation']);
  for (const code of cases) t.ok(documented.has(code), `${code} is documented`);
});

t.test('omoi docs --check passes on the committed file and fails on a stale one; omoi docs rewrites it', async (t) => {
  const ok = await runOmoi(['docs', '--check']);
  t.equal(ok.code, 0, ok.stderr);
  const dir = await tempDir(t, 'cli-docs');
  const stale = path.join(dir, 'protocol.md');
  await writeFile(stale, '# old\n');
  const bad = await runOmoiHere(['docs', '--check', '--out', stale]);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /out of date: run `omoi docs`/);
  const fixed = await runOmoiHere(['docs', '--out', stale]);
  t.equal(fixed.code, 0, fixed.stderr);
  t.ok((await readFile(stale, 'utf8')) === generateProtocolDoc(), 'rewritten from the registry');
});

t.test('omoi docs checks and rewrites docs/openapi.json too (--openapi-out elsewhere)', async (t) => {
  const dir = await tempDir(t, 'cli-openapi');
  const stale = path.join(dir, 'openapi.json');
  await writeFile(stale, '{}\n');
  const bad = await runOmoiHere(['docs', '--check', '--openapi-out', stale]);
  t.equal(bad.code, 1);
  t.match(bad.stderr, `${stale} is out of date`);
  t.notMatch(bad.stderr, 'protocol.md', 'only the stale file is named');
  const fixed = await runOmoiHere(['docs', '--out', path.join(dir, 'protocol.md'), '--openapi-out', stale]);
  t.equal(fixed.code, 0, fixed.stderr);
  t.match(fixed.stdout, `wrote ${stale}`);
  t.ok((await readFile(stale, 'utf8')) === await generateOpenApiDocument(), 'rewritten from the route schemas');
  t.equal((await runOmoiHere(['docs', '--check', '--openapi-out', stale])).code, 0, 'now current');
});
