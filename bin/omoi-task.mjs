#!/usr/bin/env node
// omoi-task (run through bin/omoi-task): a running task's client of its own task API (src/task-api). Plain Node, no
// dependencies: it runs inside the task's sandbox, which sees Omoi's installation read-only.
// It reads OMOI_TASK_SOCKET and OMOI_TASK_TOKEN, which exist only while the attempt runs.
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { parseArgs } from 'node:util';

const HELP = `omoi-task — discover work from inside a running Omoi task

Usage:
  omoi-task add --id ID --run CMD [--owns GLOB]... [--depends-on ID]... [options]
  omoi-task add --file task.json          (a task spec; - reads stdin)
  omoi-task split --file split.json       ({ "tasks": [...], "continuation": {...} }; - reads stdin)
  omoi-task split --task 'ID=CMD=GLOB[,GLOB]'... --continuation 'ID=CMD'
  omoi-task progress MESSAGE [--percent N]

add        adds a task to this task's ticket. Without --depends-on it starts from the ticket's
           base; depend on this task (--depends-on "$OMOI_TASK_ID") to start from its result.
split      this task splits: the new tasks (those without dependencies) start from this task's
           commit once it completes, in parallel; the continuation joins them (their branches
           merged), and the tasks that depended on this task now depend on the continuation.
progress   says this attempt is alive and how far it got (a task.progress event).

Options of add (and of each task of a split file): --title, --kind command|agent, --phase,
--capability (repeatable), --priority N, --max-retries N, --timeout-ms N.
--idempotency-key KEY  sends a retried call only once.

A task may make OMOI_TASK_API_MAX_CALLS calls (default 60) within any 10 s; past that the API
answers 429 rate_limited and omoi-task waits as told and tries again, for up to a minute.

Exit codes: 0 accepted (or pending: durable, not applied yet), 1 refused (the error's code on
stderr, e.g. cycle, unknown_dependency, illegal_transition), 2 wrong usage, 3 no task API
(not inside a running attempt, or the attempt has ended).`;

const USAGE = 2;
const REFUSED = 1;
const UNAVAILABLE = 3;

function fail(code, message) {
  process.stderr.write(`omoi-task: ${message}\n`);
  process.exit(code);
}

function readJsonFile(file) {
  try {
    return JSON.parse(readFileSync(file === '-' ? 0 : file, 'utf8'));
  } catch (err) {
    fail(USAGE, `cannot read JSON from ${file === '-' ? 'stdin' : file}: ${err.message}`);
  }
}

function int(name, value) {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) fail(USAGE, `--${name} must be an integer, not ${JSON.stringify(value)}`);
  return n;
}

/** A task spec from add's flags; fields left out get the protocol's defaults. */
function specOf(v) {
  if (!v.id || !v.run) fail(USAGE, 'add needs --id and --run (or --file); see omoi-task --help');
  const spec = {
    id: v.id, run: v.run, owns: v.owns ?? [], depends_on: v['depends-on'] ?? [],
    title: v.title, kind: v.kind, phase: v.phase, capabilities: v.capability,
    priority: int('priority', v.priority), max_retries: int('max-retries', v['max-retries']), timeout_ms: int('timeout-ms', v['timeout-ms']),
  };
  return Object.fromEntries(Object.entries(spec).filter(([, x]) => x !== undefined));
}

/** `ID=CMD` or `ID=CMD=GLOB,GLOB` (a command holding `=` needs --file). */
function shortSpec(flag, text) {
  const [id, run, owns] = text.split('=');
  if (!id || !run) fail(USAGE, `${flag} takes ID=CMD or ID=CMD=GLOB[,GLOB], not ${JSON.stringify(text)}`);
  return { id, run, owns: owns ? owns.split(',').filter(Boolean) : [], depends_on: [] };
}

function call(endpoint, body, idempotencyKey) {
  const socketPath = process.env.OMOI_TASK_SOCKET;
  const token = process.env.OMOI_TASK_TOKEN;
  if (!socketPath || !token) fail(UNAVAILABLE, 'OMOI_TASK_SOCKET and OMOI_TASK_TOKEN are not set: omoi-task works only inside a running Omoi task');
  const data = JSON.stringify(body);
  return new Promise((resolve) => {
    const req = request({
      socketPath, path: `/${endpoint}`, method: 'POST',
      headers: {
        authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(data),
        ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
      },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let answer;
        try { answer = JSON.parse(text); } catch { answer = { error: { code: 'bad_answer', message: text.slice(0, 500) } }; }
        resolve({ status: res.statusCode ?? 0, answer });
      });
    });
    req.on('error', (err) => fail(UNAVAILABLE, `the task API does not answer (${err.code ?? err.message}): the attempt has ended, or this is not a running task`));
    req.end(data);
  });
}

/** How long a call waits in all for a rate-limited API (429) before it gives up as refused, ms. */
const PATIENCE_MS = 60_000;

/** A call, made again after the API's `retry_after_ms` while it is rate-limited (nothing was sent). */
async function callPatiently(endpoint, body, idempotencyKey) {
  let waited = 0;
  for (;;) {
    const result = await call(endpoint, body, idempotencyKey);
    if (result.status !== 429 || waited >= PATIENCE_MS) return result;
    const pause = Math.min(Math.max(Number(result.answer?.error?.retry_after_ms) || 1000, 50), PATIENCE_MS - waited);
    await new Promise((resolve) => setTimeout(resolve, pause));
    waited += pause;
  }
}

async function main() {
  const [command, ...rest] = process.argv.slice(2);
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(HELP + '\n');
    process.exit(command ? 0 : USAGE);
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest, allowPositionals: command === 'progress',
      options: {
        file: { type: 'string' }, id: { type: 'string' }, run: { type: 'string' }, title: { type: 'string' },
        owns: { type: 'string', multiple: true }, 'depends-on': { type: 'string', multiple: true },
        kind: { type: 'string' }, phase: { type: 'string' }, capability: { type: 'string', multiple: true },
        priority: { type: 'string' }, 'max-retries': { type: 'string' }, 'timeout-ms': { type: 'string' },
        task: { type: 'string', multiple: true }, continuation: { type: 'string' },
        percent: { type: 'string' }, 'idempotency-key': { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    fail(USAGE, `${err.message}; see omoi-task --help`);
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(HELP + '\n');
    process.exit(0);
  }
  let endpoint;
  let body;
  if (command === 'add') {
    endpoint = 'add';
    body = v.file ? readJsonFile(v.file) : specOf(v);
  } else if (command === 'split') {
    endpoint = 'split';
    if (v.file) body = readJsonFile(v.file);
    else {
      if (!v.task?.length || !v.continuation) fail(USAGE, 'split needs --file, or --task (repeatable) and --continuation; see omoi-task --help');
      body = { tasks: v.task.map((t) => shortSpec('--task', t)), continuation: shortSpec('--continuation', v.continuation) };
    }
  } else if (command === 'progress') {
    endpoint = 'progress';
    const message = parsed.positionals.join(' ');
    const percent = v.percent === undefined ? undefined : Number(v.percent);
    if (percent !== undefined && !(percent >= 0 && percent <= 100)) fail(USAGE, `--percent must be a number from 0 to 100, not ${JSON.stringify(v.percent)}`);
    body = { ...(message ? { message } : {}), ...(percent !== undefined ? { percent } : {}) };
  } else {
    fail(USAGE, `unknown command ${JSON.stringify(command)}: add, split or progress; see omoi-task --help`);
  }
  const { status, answer } = await callPatiently(endpoint, body, v['idempotency-key']);
  if (status >= 200 && status < 300) {
    process.stdout.write(JSON.stringify(answer) + '\n');
    process.exit(0);
  }
  const error = answer.error ?? { code: String(status), message: 'refused' };
  process.stderr.write(`omoi-task: ${error.code}: ${error.message}${error.field ? ` (at ${error.field})` : ''}\n`);
  process.exit(status >= 500 ? UNAVAILABLE : REFUSED);
}

await main();
