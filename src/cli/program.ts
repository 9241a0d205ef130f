import fs from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { CliError, describeFailure } from './cli-error.ts';
import { ROLES, type Role } from '../access/roles.ts';
import { ALERT_DELIVERY_STATUSES, DEFAULT_NATS_URL, DEFAULT_NODE_URL, DLQ_STATUSES, type AlertDeliveryStatus, type DlqStatus } from './defaults.ts';
import { ALERT_KINDS } from '../alerts/alert-kinds.ts';

// Commands are imported when they run: `--help` and usage errors stay fast.
const start = () => import('./commands/start.ts');
const pub = () => import('./commands/pub.ts');
const sub = () => import('./commands/sub.ts');
const dlqCommands = () => import('./commands/dlq.ts');
const status = () => import('./commands/status.ts');
const docs = () => import('./commands/docs.ts');
const tokenCommands = () => import('./commands/token.ts');
const audit = () => import('./commands/audit.ts');
const natsUser = () => import('./commands/nats-user.ts');
const alertDeliveryCommands = () => import('./commands/alert-deliveries.ts');
const budgetCommands = () => import('./commands/budget.ts');
const alertCommands = () => import('./commands/alerts.ts');
const specCommands = () => import('./commands/spec.ts');
const taskCommands = () => import('./commands/task.ts');
const gateCommands = () => import('./commands/gates.ts');
const agentCommands = () => import('./commands/agents.ts');
const webhookCommands = () => import('./commands/webhooks.ts');
const memoryCommands = () => import('./commands/memory.ts');

const VERSION = (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const NATS_URL_HELP = `NATS server (default: $NATS_URL, else the embedded server of the node in $OMOI_DATA_DIR, as named in its nats-client.env, else ${DEFAULT_NATS_URL})`;
const NODE_URL_HELP = "the node's HTTP URL";
const ADMIN_TOKEN_HELP = 'Needs an admin token: $OMOI_API_TOKEN, or <data dir>/api-token (the node\'s bootstrap admin).';

/** Output of a run; the process's own streams unless a caller (a test) gives others. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

const processIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}

function positiveNumber(name: string) {
  return (raw: string): number => {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a number above 0.`);
    return n;
  };
}

function positiveInt(name: string) {
  return (raw: string): number => {
    if (!/^\d+$/.test(raw) || Number(raw) < 1 || !Number.isSafeInteger(Number(raw))) throw new InvalidArgumentError(`${name} must be a positive integer.`);
    return Number(raw);
  };
}

/**
 * The `omoi` command tree (commander). Actions print through `io` and may set
 * `process.exitCode`; failures are thrown and turned into one line by `runCli`.
 */
export function buildProgram(io: CliIo = processIo): Command {
  const program = new Command('omoi')
    .description('Omoi: a distributed actor runtime for swarms of coding agents.\nStart a node, send and watch protocol messages, inspect dead letters.')
    .version(VERSION, '-V, --version')
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', examples(
      'omoi start',
      `omoi sub 'omoi.evt.>' --pretty`,
      `omoi pub omoi.in.ticket.cancel '{"ticket_id":"T1"}'`,
      'omoi status',
      'omoi token create ci-bot --role operator',
    ) + '\nConfiguration is read from the environment (OMOI_*, DATABASE_URL, NATS_URL and the NATS_* credentials) and the file named by OMOI_CONFIG.\nThe message protocol is described in docs/protocol.md.\n');

  program
    .command('start')
    .summary('start a node (runs until Ctrl-C)')
    .description('Start a node: database (embedded unless DATABASE_URL), NATS (embedded unless NATS_URL), actors, partitions, HTTP.\nRuns until SIGINT/SIGTERM, then stops gracefully; a second signal forces the exit (130/143).\nInvalid configuration exits 2 with one line naming the setting.')
    .option('--demo', 'also run the demo: a ticket on a sample repository (split, join, real merges, a resolved conflict), narrated as it runs; see docs/tutorial.md')
    .option('--demo-conflict', 'run the demo without its resolver: the config.py conflict blocks the merge of join-G for a person to resolve, and raises a merge_unresolved alert (implies --demo)')
    .option('--spec-demo', 'run the spec demo: a goal on the sample repository planned by a deterministic planner (findings, requirements, design, DAG), built by a ticket that splits, joins and merges, and pushed to a bare origin in <data dir>/demo/origin.git; then stop (exit 0 when delivered, 1 with the reason otherwise); replaces --demo')
    .addHelpText('after', examples(
      'omoi start',
      'omoi start --spec-demo',
      'OMOI_HTTP_PORT=0 DATABASE_URL=postgres://localhost/omoi NATS_URL=nats://localhost:4222 omoi start',
      'OMOI_CONFIG=omoi.yaml omoi start',
    ))
    .action(async (opts: { demo?: boolean; demoConflict?: boolean; specDemo?: boolean }) => {
      await (await start()).runStart(opts);
    });

  program
    .command('pub')
    .summary('publish a message (validated for omoi.in.<type>)')
    .description('Publish a message. For omoi.in.<type> subjects the JSON is first checked as the node checks it (the error names the field; nothing is sent).\nSubjects stored in a JetStream stream are published with JetStream and the ack is awaited.')
    .argument('<subject>', 'subject, e.g. omoi.in.task.complete')
    .argument('<json|@file>', 'the body: JSON text, @path to read a file, @- for stdin')
    .option('--nats-url <url>', NATS_URL_HELP)
    .option('--id <id>', 'Nats-Msg-Id header: the same id is stored and handled once')
    .option('--no-validate', 'send the body as is, even if invalid (to test rejection)')
    .option('--agent <id>', "sign as this remote agent (its messages must be signed; needs --key; on a node's NATS, connect as the agent's user too: NATS_NKEY=<seed> NATS_INBOX_PREFIX=_INBOX.omoi-agent.<id, . as ~>)")
    .option('--key <file>', "the agent's ed25519 private key (PEM), to sign with")
    .addHelpText('after', examples(
      'omoi pub omoi.in.ticket.create @ticket.json',
      `omoi pub omoi.in.ticket.cancel '{"ticket_id":"T1","reason":"superseded"}' --id cancel-T1`,
      `omoi pub omoi.in.task.complete '{"ticket_id":"T1","task_id":"B","attempt":1}' --id complete-T1-B-1 --agent agent-7 --key agent-7.key`,
      `omoi pub --no-validate omoi.in.ticket.cancel '{not json'`,
    ))
    .action(async (subject: string, input: string, opts: { natsUrl?: string; id?: string; validate: boolean; agent?: string; key?: string }) => {
      io.out((await (await pub()).runPub(subject, input, opts)) + '\n');
    });

  program
    .command('sub')
    .summary('print messages on a subject pattern')
    .description('Subscribe and print each message as one JSON line {"subject","data"}, or a readable line with --pretty.\nShows live messages only (no history).')
    .argument('<pattern>', "subject or wildcard pattern, e.g. 'omoi.evt.>'")
    .option('--nats-url <url>', NATS_URL_HELP)
    .option('--pretty', 'print "time type key=value…" lines')
    .option('--count <n>', 'exit after n messages', positiveInt('--count'))
    .option('--timeout <ms>', 'exit after ms milliseconds (exit 1 if --count messages have not arrived)', positiveInt('--timeout'))
    .addHelpText('after', examples(
      `omoi sub 'omoi.evt.>' --pretty`,
      `omoi sub 'omoi.errors.>'`,
      `omoi sub omoi.evt.ticket.completed --count 1 --timeout 60000`,
    ))
    .action(async (pattern: string, opts: { natsUrl?: string; pretty?: boolean; count?: number; timeout?: number }) => {
      await (await sub()).runSub(pattern, opts, (line) => io.out(line + '\n'));
    });

  program
    .command('resolve')
    .summary('resume a join blocked by its merge: your merge commit, or a re-run of the resolver')
    .description('Resume a join blocked with `merge_conflict` or `merge_error` (publishes merge.resolve), in one of two ways:\n'
      + 'give the merge commit you made by hand (the continuation resumes on it; make it in the ticket\'s clone, <data dir>/repos/<ticket>,\n'
      + 'on top of the failed merge or from the sources), or --rerun-resolver: a new merge attempt runs the ticket\'s resolver_command again.')
    .argument('<ticket>', 'ticket id')
    .argument('<join>', 'join id (join-<continuation>)')
    .argument('[commit]', 'full 40-character sha of your merge commit (not with --rerun-resolver)')
    .option('--rerun-resolver', 'start a new merge attempt that runs the configured resolver, instead of giving a commit')
    .option('--nats-url <url>', NATS_URL_HELP)
    .addHelpText('after', examples('omoi resolve T1 join-D 0123456789abcdef0123456789abcdef01234567', 'omoi resolve T1 join-D --rerun-resolver'))
    .action(async (ticket: string, join: string, commit: string | undefined, opts: { natsUrl?: string; rerunResolver?: boolean }) => {
      if (!!commit === !!opts.rerunResolver) throw new CliError('give exactly one of <commit> or --rerun-resolver', 2);
      const body = JSON.stringify({ ticket_id: ticket, join_id: join, ...(commit ? { commit } : { rerun_resolver: true }) });
      io.out((await (await pub()).runPub('omoi.in.merge.resolve', body, { natsUrl: opts.natsUrl })) + '\n');
    });

  const taskCommand = program
    .command('task')
    .summary('act on one task of a ticket (retry)')
    .description('Act on one task of a ticket through a running node\'s HTTP API (the calls the dashboard makes).\nNeeds an operator token: $OMOI_API_TOKEN, or <data dir>/api-token (the node\'s bootstrap admin).')
    .addHelpText('after', examples('omoi task retry T1 B --reason "registry is back"'));

  taskCommand
    .command('retry')
    .description('Retry a task that failed (its retries exhausted) or was cancelled: it is scheduled afresh with max_retries\nretries again, what its end blocked resumes, and a ticket it failed runs again. Audited; refused for a task\nthat did not fail (task_not_retryable) or a completed or cancelled ticket (ticket_ended).')
    .argument('<ticket>', 'ticket id')
    .argument('<task>', 'task id')
    .option('--reason <text>', 'why (kept on the task and in the task.retried event)')
    .option('--url <url>', NODE_URL_HELP, DEFAULT_NODE_URL)
    .option('--json', 'print JSON')
    .addHelpText('after', examples('omoi task retry T1 B', 'omoi task retry T1 B --reason "flaky network" --url http://10.0.0.5:7070'))
    .action(async (ticket: string, taskId: string, opts: { reason?: string; url: string; json?: boolean }) => {
      io.out((await (await taskCommands()).taskRetry(ticket, taskId, opts)) + '\n');
    });

  const OPERATOR_TOKEN_HELP = 'Needs an operator token: $OMOI_API_TOKEN, or <data dir>/api-token (the node\'s bootstrap admin).';
  program
    .command('approve')
    .summary('approve the gate a ticket waits at (before_execute, before_delivery)')
    .description(`Approve the human gate a ticket waits at, through a running node's HTTP API: before_execute (its tasks\nstart) or before_delivery (its branch is pushed; also after an earlier rejection). Recorded with who and when.\nRefused when the ticket does not wait there (gate_not_awaiting). ${OPERATOR_TOKEN_HELP}\nA spec's phases are approved with omoi spec approve.`)
    .argument('<ticket>', 'ticket id')
    .addOption(new Option('--gate <gate>', 'the gate (default: the one it waits at)').choices(['before_execute', 'before_delivery']))
    .option('--comment <text>', 'why (recorded with the decision)')
    .option('--url <url>', NODE_URL_HELP, DEFAULT_NODE_URL)
    .option('--json', 'print JSON')
    .addHelpText('after', examples('omoi approve T1', 'omoi approve T1 --gate before_delivery --comment "reviewed"'))
    .action(async (ticket: string, opts: { gate?: 'before_execute' | 'before_delivery'; comment?: string; url: string; json?: boolean }) => {
      io.out((await (await gateCommands()).decideGate('approve', ticket, opts)) + '\n');
    });
  program
    .command('reject')
    .summary('reject the gate a ticket waits at, with a comment')
    .description(`Reject the human gate a ticket waits at, with a comment: before_execute cancels the ticket (reason\n"rejected: <comment>"); before_delivery marks its delivery rejected (a later approve still pushes it).\n${OPERATOR_TOKEN_HELP}\nA spec's phases are rejected with omoi spec reject.`)
    .argument('<ticket>', 'ticket id')
    .requiredOption('--comment <text>', 'why (required; recorded with the decision)')
    .addOption(new Option('--gate <gate>', 'the gate (default: the one it waits at)').choices(['before_execute', 'before_delivery']))
    .option('--url <url>', NODE_URL_HELP, DEFAULT_NODE_URL)
    .option('--json', 'print JSON')
    .addHelpText('after', examples('omoi reject T1 --comment "not this sprint"'))
    .action(async (ticket: string, opts: { gate?: 'before_execute' | 'before_delivery'; comment: string; url: string; json?: boolean }) => {
      io.out((await (await gateCommands()).decideGate('reject', ticket, opts)) + '\n');
    });
  program
    .command('deliver')
    .summary('push a completed ticket\'s branch again after its delivery failed')
    .description(`Push a completed ticket's branch to its delivery remote again after the delivery failed (a new round of\nretried attempts). Refused unless its delivery failed (delivery_not_failed) or without delivery (no_delivery).\n${OPERATOR_TOKEN_HELP}`)
    .argument('<ticket>', 'ticket id')
    .option('--url <url>', NODE_URL_HELP, DEFAULT_NODE_URL)
    .option('--json', 'print JSON')
    .addHelpText('after', examples('omoi deliver T1'))
    .action(async (ticket: string, opts: { url: string; json?: boolean }) => {
      io.out((await (await gateCommands()).deliverAgain(ticket, opts)) + '\n');
    });

  const agentsCommand = program
    .command('agents')
    .summary('list agents; drain, undrain, shut down or remove one; broadcast to all')
    .description(`Agents through a running node's HTTP API: list them (viewer), drain one (it finishes what it runs and is\noffered nothing new), end its drain, shut it down (drained, then removed once its attempts end), remove it\n(its running attempts go back to the queue), or send every agent a message. Each agent is told on its control\nsubject. ${ADMIN_TOKEN_HELP}`)
    .addHelpText('after', examples('omoi agents', 'omoi agents drain agent-7 --reason "host maintenance"', 'omoi agents undrain agent-7', 'omoi agents shutdown agent-7 --reason "host retired"', 'omoi agents broadcast "upgrade at 18:00"', 'omoi agents remove agent-7'));

  agentsCommand
    .command('list', { isDefault: true })
    .description('List every agent: kind, phase, health, whether it drains, running attempts of its capacity.')
    .option('--url <url>', NODE_URL_HELP, DEFAULT_NODE_URL)
    .option('--json', 'print JSON')
    .addHelpText('after', examples('omoi agents list', 'omoi agents list --json'))
    .action(async (opts: { url: string; json?: boolean }) => {
      io.out((await (await agentCommands()).agentsList(opts)) + '\n');
    });

  for (const [name, what] of [
    ['drain', 'Drain an agent: it keeps and finishes its running attempts and is offered no new ones, until undrained.'],
    ['undrain', 'End an agent\'s drain: it is offered tasks again.'],
    ['shutdown', 'Shut an agent down: it is drained and told to shut down; once its running attempts end it is removed (reason shutdown).'],
    ['remove', 'Remove (deregister) an agent: its running attempts go back to the queue for other agents.'],
  ] as const) {
    agentsCommand
      .command(name)
      .description(`${what} Needs an admin token; audited.`)
      .argument('<id>', 'agent id')
      .option('--reason <text>', 'why (in the agent.status event)')
      .option('--url <url>', NODE_URL_HELP, DEFAULT_NODE_URL)
      .option('--json', 'print JSON')
      .addHelpText('after', examples(`omoi agents ${name} agent-7`))
      .action(async (id: string, opts: { reason?: string; url: string; json?: boolean }) => {
        io.out((await (await agentCommands()).agentsAct(name, id, opts)) + '\n');
      });
  }

  agentsCommand
    .command('broadcast')
    .description('Send a message to every agent that is not removed, on its control subject (no acknowledgement asked). Needs an admin token; audited.')
    .argument('<message>', 'the text (1 to 2000 characters)')
    .option('--url <url>', NODE_URL_HELP, DEFAULT_NODE_URL)
    .option('--json', 'print JSON')
    .addHelpText('after', examples('omoi agents broadcast "cluster upgrade at 18:00: finish what you run"'))
    .action(async (message: string, opts: { url: string; json?: boolean }) => {
      io.out((await (await agentCommands()).agentsBroadcast(message, opts)) + '\n');
    });

  const dlq = program
    .command('dlq')
    .summary('list, show, retry or discard dead letters')
    .description('Dead letters: input that was rejected or exhausted its deliveries.\nUses DATABASE_URL; without it, the embedded database of a running node (its URL is in <data dir>/database-url).')
    .addHelpText('after', examples('omoi dlq list', 'omoi dlq list --status all', 'omoi dlq show 12', 'omoi dlq retry 12', 'omoi dlq discard 12'));
  const idArg = (raw: string) => positiveInt('the dead letter id')(raw);

  dlq
    .command('list')
    .description('List dead letters, newest first.')
    .addOption(new Option('--status <status>', 'which ones').choices(DLQ_STATUSES).default('open'))
    .option('--limit <n>', 'at most n rows', positiveInt('--limit'), 100)
    .option('--json', 'print JSON')
    .addHelpText('after', examples('omoi dlq list', 'omoi dlq list --status all --limit 20', 'omoi dlq list --json'))
    .action(async (opts: { status: DlqStatus; limit: number; json?: boolean }) => {
      io.out((await (await dlqCommands()).dlqList(opts)) + '\n');
    });

  dlq
    .command('show')
    .description('Show one dead letter with its original body.')
    .argument('<id>', 'dead letter id', idArg)
    .option('--json', 'print JSON')
    .addHelpText('after', examples('omoi dlq show 12'))
    .action(async (id: number, opts: { json?: boolean }) => {
      io.out((await (await dlqCommands()).dlqShow(id, opts)) + '\n');
    });

  dlq
    .command('retry')
    .description('Publish the original message again on its original subject (it is validated again) and mark the dead letter retried.')
    .argument('<id>', 'dead letter id', idArg)
    .option('--nats-url <url>', NATS_URL_HELP)
    .addHelpText('after', examples('omoi dlq retry 12'))
    .action(async (id: number, opts: { natsUrl?: string }) => {
      io.out((await (await dlqCommands()).dlqRetry(id, opts)) + '\n');
    });

  dlq
    .command('discard')
    .description('Mark an open dead letter discarded (it is kept for the record).')
    .argument('<id>', 'dead letter id', idArg)
    .addHelpText('after', examples('omoi dlq discard 12'))
    .action(async (id: number) => {
      io.out((await (await dlqCommands()).dlqDiscard(id, {})) + '\n');
    });

  program
    .command('status')
    .summary('readiness, cluster and tickets of a running node')
    .description('Ask a running node over HTTP for its readiness, the cluster (nodes, partitions) and ticket counts by status.\nThe API token is $OMOI_API_TOKEN or <data dir>/api-token. Exits 1 if no node answers or it is not ready.')
    .option('--url <url>', 'the node\'s HTTP URL', DEFAULT_NODE_URL)
    .addHelpText('after', examples('omoi status', 'omoi status --url http://10.0.0.5:7070'))
    .action(async (opts: { url: string }) => {
      const { report, ready } = await (await status()).runStatus(opts);
      io.out(report + '\n');
      if (!ready) process.exitCode = 1;
    });

  const token = program
    .command('token')
    .summary('create, list or revoke API tokens (principals with a role)')
    .description(`API tokens for the HTTP API and dashboard, each a principal with a role:\nviewer (reads), operator (plus ticket commands), admin (plus agents, dead letters, tokens, audit).\nTokens are shown once and stored only hashed. ${ADMIN_TOKEN_HELP}`)
    .addHelpText('after', examples('omoi token create ci-bot --role operator', 'omoi token list', 'omoi token revoke ci-bot'));

  token
    .command('create')
    .description('Create a principal and print its new token once (only its sha256 is stored).')
    .argument('<name>', 'principal name (letters, digits, _ - .; at most 64)')
    .addOption(new Option('--role <role>', 'what it may do').choices(ROLES).makeOptionMandatory())
    .option('--url <url>', NODE_URL_HELP, DEFAULT_NODE_URL)
    .option('--json', 'print JSON')
    .addHelpText('after', examples('omoi token create dashboard-viewer --role viewer', 'omoi token create ci-bot --role operator --url http://10.0.0.5:7070'))
    .action(async (name: string, opts: { role: Role; url: string; json?: boolean }) => {
      io.out((await (await tokenCommands()).tokenCreate(name, opts.role, opts)) + '\n');
    });

  token
    .command('list')
    .description('List every principal with its role, creator and revocation (never a token or hash).')
    .option('--url <url>', NODE_URL_HELP, DEFAULT_NODE_URL)
    .option('--json', 'print JSON')
    .addHelpText('after', examples('omoi token list', 'omoi token list --json'))
    .action(async (opts: { url: string; json?: boolean }) => {
      io.out((await (await tokenCommands()).tokenList(opts)) + '\n');
    });

  token
    .command('revoke')
    .description('Revoke a principal\'s token: refused at once by this node, by the others within a second.')
    .argument('<name>', 'principal name')
    .option('--url <url>', NODE_URL_HELP, DEFAULT_NODE_URL)
    .addHelpText('after', examples('omoi token revoke ci-bot'))
    .action(async (name: string, opts: { url: string }) => {
      io.out((await (await tokenCommands()).tokenRevoke(name, opts)) + '\n');
    });

  const budget = program
    .command('budget')
    .summary('show or change the budget of a ticket or an agent')
    .description('Budgets limit the cost (US dollars, as agents report it) and wall time of a ticket\'s or an agent\'s attempts.\nAt the warn share a budget.warning event is published; at 100 % budget.exceeded, and the ticket starts no new attempt\n(the agent is offered none) until the budget is raised. Changing a budget needs the operator role.')
    .addHelpText('after', examples('omoi budget set --ticket T1 --cost-usd 5 --wall-ms 600000', 'omoi budget show --ticket T1', 'omoi budget set --agent agent-7 --cost-usd 50', 'omoi budget set --ticket T1 --clear'));

  budget
    .command('set')
    .description('Raise, change or clear a budget: the limits given replace the old ones, the others are kept; --clear removes them all.')
    .option('--ticket <id>', 'the ticket')
    .option('--agent <id>', 'the agent')
    .option('--cost-usd <usd>', 'cost limit, US dollars', positiveNumber('--cost-usd'))
    .option('--wall-ms <ms>', 'wall-time limit, ms (summed over attempts)', positiveInt('--wall-ms'))
    .option('--warn-share <share>', 'share of a limit that warns, above 0 and at most 1', positiveNumber('--warn-share'))
    .addOption(new Option('--on-exceeded <policy>', 'a ticket\'s running attempts at 100 %').choices(['finish', 'stop']))
    .option('--clear', 'no budget: clear every limit and setting')
    .option('--url <url>', NODE_URL_HELP, DEFAULT_NODE_URL)
    .action(async (opts: { ticket?: string; agent?: string; costUsd?: number; wallMs?: number; warnShare?: number; onExceeded?: 'finish' | 'stop'; clear?: boolean; url: string }) => {
      io.out((await (await budgetCommands()).budgetSet(opts)) + '\n');
    });

  budget
    .command('show')
    .description('Show a budget: the limits, what was spent (cost, wall time, tokens, attempts) and whether it is exceeded.')
    .option('--ticket <id>', 'the ticket')
    .option('--agent <id>', 'the agent')
    .option('--url <url>', NODE_URL_HELP, DEFAULT_NODE_URL)
    .option('--json', 'print JSON')
    .action(async (opts: { ticket?: string; agent?: string; url: string; json?: boolean }) => {
      io.out((await (await budgetCommands()).budgetShow(opts)) + '\n');
    });

  program
    .command('audit')
    .summary('the audit log: who changed what, newest first')
    .description(`Print the audit log: one row per state-changing call (HTTP, NATS ingress, omoi pub) with its principal,\nrole, channel, command, target and outcome (accepted or refused:<code>), newest first. ${ADMIN_TOKEN_HELP}`)
    .option('--limit <n>', 'at most n rows', positiveInt('--limit'), 50)
    .option('--principal <name>', 'only this principal')
    .option('--command <command>', 'only this command, e.g. ticket.cancel or token.create')
    .option('--url <url>', NODE_URL_HELP, DEFAULT_NODE_URL)
    .option('--json', 'print JSON')
    .addHelpText('after', examples('omoi audit', 'omoi audit --limit 200 --principal ci-bot', 'omoi audit --command ticket.cancel --json'))
    .action(async (opts: { limit: number; principal?: string; command?: string; url: string; json?: boolean }) => {
      io.out((await (await audit()).runAudit(opts)) + '\n');
    });

  const memory = program
    .command('memory')
    .summary('the memory of past work: task results, failure reasons, merge resolutions')
    .description('The memory of past work: what tasks returned, why tasks failed and how merge conflicts were resolved,\nindexed per repository; a starting task\'s context recalls the most relevant of it (`context.memory`).');
  memory
    .command('search')
    .summary('search the memory by words, best match first')
    .description('Search the memory of past work by full text (English stemming: "parsing configs" finds "parse the config"), best match first.\nThe query is web-search syntax: words, "a quoted phrase", or, -word.\nNeeds a viewer token: $OMOI_API_TOKEN, or <data dir>/api-token (the node\'s bootstrap admin).')
    .argument('<query...>', 'the words to look for')
    .option('--repository <repo>', 'only this repository (as tickets name it: a path or clone URL)')
    .option('--limit <n>', 'at most n results (1 to 50)', positiveInt('--limit'), 10)
    .option('--url <url>', NODE_URL_HELP, DEFAULT_NODE_URL)
    .option('--json', 'print JSON')
    .addHelpText('after', examples('omoi memory search config parser', 'omoi memory search "merge conflict" --repository /srv/repos/app', 'omoi memory search "parser -lexer" --json'))
    .action(async (words: string[], opts: { repository?: string; limit: number; url: string; json?: boolean }) => {
      io.out((await (await memoryCommands()).memorySearch(words.join(' '), opts)) + '\n');
    });

  const alertDeliveries = program
    .command('alert-deliveries')
    .summary('where alert notifications went (webhook, Slack, e-mail); test a route')
    .description('Alert deliveries: one per notification of an alert and route, with status (pending, delivered, failed),\nattempts, next attempt, the route\'s last answer and last error. Routes are `alerts.routes` in the config file.')
    .addHelpText('after', examples('omoi alert-deliveries', 'omoi alert-deliveries --status failed', 'omoi alert-deliveries --alert 01JF3Q8ZK2', 'omoi alert-deliveries test ops-webhook'));

  alertDeliveries
    .command('list', { isDefault: true })
    .description('List alert deliveries, newest first (any token: $OMOI_API_TOKEN or <data dir>/api-token).')
    .option('--alert <id>', 'only this alert\'s')
    .addOption(new Option('--status <status>', 'only deliveries with this status').choices(ALERT_DELIVERY_STATUSES))
    .option('--limit <n>', 'at most n rows', positiveInt('--limit'), 50)
    .option('--url <url>', NODE_URL_HELP, DEFAULT_NODE_URL)
    .option('--json', 'print JSON')
    .addHelpText('after', examples('omoi alert-deliveries list --status failed', 'omoi alert-deliveries list --alert 01JF3Q8ZK2 --json'))
    .action(async (opts: { alert?: string; status?: AlertDeliveryStatus; limit: number; url: string; json?: boolean }) => {
      io.out((await (await alertDeliveryCommands()).listDeliveries(opts)) + '\n');
    });

  alertDeliveries
    .command('test')
    .description('Send a test notification (status "test") through a configured route now, from here: with this\nenvironment\'s OMOI_CONFIG and secrets, no retry, nothing recorded. Prints the route\'s answer; exits 1 if it failed.')
    .argument('<route>', 'route name (a key of alerts.routes)')
    .option('--timeout <ms>', 'give up after ms milliseconds', positiveInt('--timeout'), 10_000)
    .addHelpText('after', examples('omoi alert-deliveries test ops-webhook', 'OMOI_CONFIG=omoi.yaml omoi alert-deliveries test team-mail --timeout 20000'))
    .action(async (route: string, opts: { timeout: number }) => {
      io.out((await (await alertDeliveryCommands()).testRoute(route, { timeoutMs: opts.timeout })) + '\n');
    });

  const webhooks = program
    .command('webhooks')
    .summary('outgoing webhook subscriptions: add, list, remove, deliveries')
    .description(`Outgoing webhooks: domain events whose type matches a subscription's globs (and ticket, if given) are POSTed\nto its URL as the event envelope, signed (Omoi-Signature over Omoi-Timestamp and the body), retried with backoff.\n${ADMIN_TOKEN_HELP}`)
    .addHelpText('after', examples("omoi webhooks add https://ci.example.com/omoi --event 'ticket.*' --event task.failed", 'omoi webhooks list', 'omoi webhooks deliveries wh-3f9a1c2b7d004e11 --status failed', 'omoi webhooks remove wh-3f9a1c2b7d004e11'));

  webhooks
    .command('add')
    .description('Subscribe a URL to events; prints the subscription and its secret once (generated unless --secret is given).')
    .argument('<url>', 'http(s) URL the events are POSTed to')
    .requiredOption('--event <glob>', 'event type glob, e.g. ticket.* (repeat for several)', (v: string, acc: string[] = []) => [...acc, v])
    .option('--ticket <id>', 'only events about this ticket')
    .option('--secret <secret>', 'the signing secret (16 to 200 characters); default: generated')
    .option('--url <url>', NODE_URL_HELP, DEFAULT_NODE_URL)
    .option('--json', 'print JSON')
    .addHelpText('after', examples("omoi webhooks add https://ci.example.com/omoi --event 'ticket.*'", 'omoi webhooks add http://10.0.0.9:8080/hook --event task.failed --ticket T1'))
    .action(async (target: string, opts: { event: string[]; ticket?: string; secret?: string; url: string; json?: boolean }) => {
      io.out((await (await webhookCommands()).webhookAdd(target, opts)) + '\n');
    });

  webhooks
    .command('list')
    .description('List subscriptions (never their secrets); --all includes removed ones.')
    .option('--all', 'include removed subscriptions')
    .option('--url <url>', NODE_URL_HELP, DEFAULT_NODE_URL)
    .option('--json', 'print JSON')
    .addHelpText('after', examples('omoi webhooks list', 'omoi webhooks list --all --json'))
    .action(async (opts: { all?: boolean; url: string; json?: boolean }) => {
      io.out((await (await webhookCommands()).webhookList(opts)) + '\n');
    });

  webhooks
    .command('remove')
    .description('Remove a subscription: no new deliveries; pending ones fail (subscription_inactive); its deliveries stay listed.')
    .argument('<id>', 'subscription id (wh-...)')
    .option('--url <url>', NODE_URL_HELP, DEFAULT_NODE_URL)
    .addHelpText('after', examples('omoi webhooks remove wh-3f9a1c2b7d004e11'))
    .action(async (id: string, opts: { url: string }) => {
      io.out((await (await webhookCommands()).webhookRemove(id, opts)) + '\n');
    });

  webhooks
    .command('deliveries')
    .description('A subscription\'s deliveries, newest first: status, attempts, next attempt, last HTTP status and error.')
    .argument('<id>', 'subscription id (wh-...)')
    .addOption(new Option('--status <status>', 'only deliveries with this status').choices(ALERT_DELIVERY_STATUSES))
    .option('--limit <n>', 'at most n rows', positiveInt('--limit'), 50)
    .option('--url <url>', NODE_URL_HELP, DEFAULT_NODE_URL)
    .option('--json', 'print JSON')
    .addHelpText('after', examples('omoi webhooks deliveries wh-3f9a1c2b7d004e11', 'omoi webhooks deliveries wh-3f9a1c2b7d004e11 --status failed --json'))
    .action(async (id: string, opts: { status?: AlertDeliveryStatus; limit: number; url: string; json?: boolean }) => {
      io.out((await (await webhookCommands()).webhookDeliveries(id, opts)) + '\n');
    });

  const alerts = program
    .command('alerts')
    .summary('list, show, acknowledge or resolve alerts')
    .description('Alerts: raised by the cluster (dead letters, failed agents, blocked tasks, unresolved merges, failed tickets,\nescalated actors, budgets, stalls, lost nodes, open circuits), acknowledged and resolved by people, or resolved\nautomatically when their condition clears. Reading needs a viewer token, ack and resolve an operator token:\n$OMOI_API_TOKEN, or <data dir>/api-token (the node\'s bootstrap admin).')
    .addHelpText('after', examples('omoi alerts', 'omoi alerts list --status all --kind agent_failed', 'omoi alerts show al-3f9a1c2b7d004e11', 'omoi alerts ack al-3f9a1c2b7d004e11 --comment "on it"', 'omoi alerts resolve al-3f9a1c2b7d004e11 --comment "agent host replaced"'));

  alerts
    .command('list', { isDefault: true })
    .description('List alerts, open ones first (then by severity, newest first). The default command of `omoi alerts`.')
    .addOption(new Option('--status <status>', 'which alerts (open = raised or acknowledged)').choices(['open', 'raised', 'acknowledged', 'resolved', 'all']).default('open'))
    .addOption(new Option('--kind <kind>', 'only this kind').choices([...ALERT_KINDS]))
    .option('--url <url>', NODE_URL_HELP, DEFAULT_NODE_URL)
    .option('--json', 'print JSON')
    .addHelpText('after', examples('omoi alerts list', 'omoi alerts list --status resolved --json'))
    .action(async (opts: { status: string; kind?: string; url: string; json?: boolean }) => {
      io.out((await (await alertCommands()).alertsList(opts)) + '\n');
    });

  alerts
    .command('show')
    .description('Show every field of one alert: counts, rule and routes, who acknowledged or resolved it.')
    .argument('<id>', 'alert id (al-…)')
    .option('--url <url>', NODE_URL_HELP, DEFAULT_NODE_URL)
    .option('--json', 'print JSON')
    .addHelpText('after', examples('omoi alerts show al-3f9a1c2b7d004e11'))
    .action(async (id: string, opts: { url: string; json?: boolean }) => {
      io.out((await (await alertCommands()).alertsShow(id, opts)) + '\n');
    });

  for (const [name, action, what] of [['ack', 'acknowledge', 'Acknowledge an open alert: it stays open, repeats still count, no more notifications go out.'], ['resolve', 'resolve', 'Resolve an open alert; a new raise of its condition opens a new alert.']] as const) {
    alerts
      .command(name)
      .description(`${what} Needs an operator token; audited.`)
      .argument('<id>', 'alert id (al-…)')
      .option('--comment <text>', 'why (kept on the alert)')
      .option('--url <url>', NODE_URL_HELP, DEFAULT_NODE_URL)
      .option('--json', 'print JSON')
      .addHelpText('after', examples(`omoi alerts ${name} al-3f9a1c2b7d004e11 --comment "…"`))
      .action(async (id: string, opts: { comment?: string; url: string; json?: boolean }) => {
        io.out((await (await alertCommands()).alertsAct(action, id, opts)) + '\n');
      });
  }

  const spec = program
    .command('spec')
    .summary('create, show, approve or re-plan specs (a goal planned into a ticket)')
    .description('Specs: a goal on a repository, planned phase by phase (EXPLORE, REQUIREMENTS, DESIGN, TASKS: each a read-only ticket whose\nJSON result is checked by the phase\'s gate), then one work ticket made of the TASKS artifact (SYNC), run to COMPLETE.\nA phase listed in the spec\'s approvals waits for `omoi spec approve|reject`.\nShowing needs a viewer token; creating, deciding and re-planning an operator token.')
    .addHelpText('after', examples('omoi spec create --repo /srv/repos/app --goal "Export orders as CSV" --demo-planner --approve TASKS', 'omoi spec show S-3f9a1c2b7d', 'omoi spec approve S-3f9a1c2b7d', 'omoi spec replan S-3f9a1c2b7d --from DESIGN'));

  spec
    .command('create')
    .description('Create a spec. Without a planner command the phases are agent tasks (the node\'s agent template runs them).')
    .requiredOption('--repo <repository>', 'local path or clone URL')
    .requiredOption('--goal <text>', 'what the change should achieve')
    .option('--base <branch>', 'base branch', 'main')
    .option('--id <id>', 'spec id (default: one made up by the node)')
    .option('--title <text>', 'title of the work ticket')
    .option('--planner-command <command>', 'plan with this command (it reads OMOI_SPEC_CONTEXT, writes OMOI_RESULT_FILE)')
    .option('--demo-planner', 'plan with the deterministic planner shipped with Omoi (no model)')
    .option('--max-phase-attempts <n>', 'runs of a phase before the spec is blocked', (v) => Number.parseInt(v, 10))
    .option('--validator <command>', 'a gate of your own: run on each planning artifact ($OMOI_RESULT_FILE, phase in $OMOI_SPEC_PHASE); non-zero exit re-plans the phase')
    .option('--approve <phase...>', 'phases whose passed artifact waits for a person (TASKS: approve the plan before any work runs)')
    .option('--push-to <remote>', 'deliver: push the work ticket\'s branch to this remote (clone URL or path) once it completed')
    .option('--branch <name>', 'with --push-to: the branch pushed (default omoi/<work ticket>)')
    .option('--pr-command <command>', 'with --push-to: run after the push ({branch} {base_branch} {title} {ticket_id} {remote} replaced)')
    .option('--url <url>', NODE_URL_HELP, DEFAULT_NODE_URL)
    .option('--json', 'print JSON')
    .addHelpText('after', examples('omoi spec create --repo /srv/repos/app --goal "Export orders as CSV" --demo-planner', 'omoi spec create --repo git@host:app.git --goal "Add search" --base develop --approve DESIGN TASKS', 'omoi spec create --repo /srv/repos/app --goal "Add search" --push-to /srv/repos/app.git --branch feature/search'))
    .action(async (opts: { repo: string; goal: string; base: string; id?: string; title?: string; plannerCommand?: string; demoPlanner?: boolean; maxPhaseAttempts?: number; validator?: string; approve?: string[]; pushTo?: string; branch?: string; prCommand?: string; url: string; json?: boolean }) => {
      io.out((await (await specCommands()).specCreate(opts)) + '\n');
    });

  spec
    .command('show')
    .description('Show a spec: its phase and status, every artifact version with its gate\'s findings, and its tickets.')
    .argument('<id>', 'spec id')
    .option('--url <url>', NODE_URL_HELP, DEFAULT_NODE_URL)
    .option('--json', 'print JSON')
    .addHelpText('after', examples('omoi spec show S-3f9a1c2b7d', 'omoi spec show S-3f9a1c2b7d --json'))
    .action(async (id: string, opts: { url: string; json?: boolean }) => {
      io.out((await (await specCommands()).specShow(id, opts)) + '\n');
    });

  spec
    .command('replan')
    .description('Plan a spec again from a planning phase: that phase and every later one run again (new artifact versions).')
    .argument('<id>', 'spec id')
    .addOption(new Option('--from <phase>', 'the phase to start from').choices(['EXPLORE', 'REQUIREMENTS', 'DESIGN', 'TASKS']).makeOptionMandatory())
    .option('--reason <text>', 'why (given to the planner as a finding)')
    .option('--url <url>', NODE_URL_HELP, DEFAULT_NODE_URL)
    .option('--json', 'print JSON')
    .addHelpText('after', examples('omoi spec replan S-3f9a1c2b7d --from DESIGN --reason "use the streaming writer"'))
    .action(async (id: string, opts: { from: string; reason?: string; url: string; json?: boolean }) => {
      io.out((await (await specCommands()).specReplan(id, opts)) + '\n');
    });

  const PLANNING = ['EXPLORE', 'REQUIREMENTS', 'DESIGN', 'TASKS'];
  spec
    .command('approve')
    .description('Approve the phase a spec waits at (awaiting_approval): it goes on to the next phase, or to the work ticket after TASKS.\nRecorded with who and when. Refused when the spec does not wait there (gate_not_awaiting).')
    .argument('<id>', 'spec id')
    .addOption(new Option('--phase <phase>', 'the phase (default: the one it waits at)').choices(PLANNING))
    .option('--comment <text>', 'why (recorded with the decision)')
    .option('--url <url>', NODE_URL_HELP, DEFAULT_NODE_URL)
    .option('--json', 'print JSON')
    .addHelpText('after', examples('omoi spec approve S-3f9a1c2b7d', 'omoi spec approve S-3f9a1c2b7d --phase TASKS --comment "the plan is right"'))
    .action(async (id: string, opts: { phase?: string; comment?: string; url: string; json?: boolean }) => {
      io.out((await (await specCommands()).specDecide('approve', id, opts)) + '\n');
    });

  spec
    .command('reject')
    .description('Reject the phase a spec waits at, with a comment: the phase is planned again, the comment among the findings it is given.\nRecorded with who and when. Refused when the spec does not wait there (gate_not_awaiting).')
    .argument('<id>', 'spec id')
    .requiredOption('--comment <text>', 'why (required; the next planning run is told)')
    .addOption(new Option('--phase <phase>', 'the phase (default: the one it waits at)').choices(PLANNING))
    .option('--url <url>', NODE_URL_HELP, DEFAULT_NODE_URL)
    .option('--json', 'print JSON')
    .addHelpText('after', examples('omoi spec reject S-3f9a1c2b7d --comment "split task B in two"'))
    .action(async (id: string, opts: { phase?: string; comment: string; url: string; json?: boolean }) => {
      io.out((await (await specCommands()).specDecide('reject', id, opts)) + '\n');
    });

  const natsUsers = program
    .command('nats-user')
    .summary('NATS users of remote agents on the embedded nats-server')
    .description('Give a remote agent a NATS user of its own (an nkey; the node keeps only the public key) with only the permissions an agent needs.\nChanges <data dir>/nats-agents.json and makes a running embedded nats-server reload it; --print-config prints the users for an external server\'s config.')
    .addHelpText('after', examples('omoi nats-user add-agent builder-1 --out builder-1.nk', 'omoi nats-user list', 'omoi nats-user list --print-config', 'omoi nats-user remove-agent builder-1'));

  natsUsers
    .command('add-agent')
    .description('Make an nkey for a remote agent, record its public key, write its seed (0600) and reload the embedded server.')
    .argument('<agent-id>', 'the agent id it will register with')
    .option('--out <file>', 'where to write the seed (default ./<agent-id>.nk; never overwritten)')
    .option('--print-config', 'also print its user entry for an external nats-server\'s authorization block')
    .addHelpText('after', examples('omoi nats-user add-agent builder-1', 'omoi nats-user add-agent builder-1 --out /secure/builder-1.nk --print-config'))
    .action(async (agentId: string, opts: { out?: string; printConfig?: boolean }) => {
      io.out((await (await natsUser()).addAgent(agentId, opts)) + '\n');
    });

  natsUsers
    .command('remove-agent')
    .description('Forget a remote agent\'s NATS user; the embedded server refuses its key after the reload.')
    .argument('<agent-id>', 'agent id')
    .addHelpText('after', examples('omoi nats-user remove-agent builder-1'))
    .action(async (agentId: string) => {
      io.out((await (await natsUser()).removeAgent(agentId)) + '\n');
    });

  natsUsers
    .command('list')
    .description('List the remote agents with a NATS user.')
    .option('--print-config', 'print an authorization block (nodes, clients, these agents) for an external nats-server')
    .addHelpText('after', examples('omoi nats-user list', 'omoi nats-user list --print-config > omoi-users.conf'))
    .action(async (opts: { printConfig?: boolean }) => {
      io.out((await natsUser()).listAgents(opts) + '\n');
    });

  program
    .command('docs')
    .summary('regenerate docs/protocol.md and docs/openapi.json')
    .description('Regenerate docs/protocol.md from the protocol registry (every message type, its subject, JSON Schema and nats example) and docs/openapi.json from the HTTP API\'s route schemas (OpenAPI 3.1).')
    .option('--check', 'write nothing; exit 1 if a file is out of date')
    .option('--out <file>', 'write the protocol reference elsewhere')
    .option('--openapi-out <file>', 'write the OpenAPI document elsewhere')
    .addHelpText('after', examples('omoi docs', 'omoi docs --check'))
    .action(async (opts: { check?: boolean; out?: string; openapiOut?: string }) => {
      io.out(await (await docs()).runDocs(opts) + '\n');
    });

  return program;
}

/**
 * Runs the CLI on `argv` (as `process.argv`) and resolves with the exit code. Every failure
 * is one line on `io.err` prefixed `omoi: ` (never a stack trace); usage errors (commander's
 * own message already printed) exit 2, invalid configuration exits 2.
 */
export async function runCli(argv: string[], io: CliIo = processIo): Promise<number> {
  try {
    await buildProgram(io).parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version end with exitCode 0; parse errors were already printed by commander.
      return err.exitCode === 0 ? 0 : 2;
    }
    const { line, exitCode } = describeFailure(err);
    io.err(`omoi: ${line}\n`);
    return exitCode;
  }
}
