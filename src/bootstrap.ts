import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DeliverPolicy, jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { probeLocalAgent } from './agents/local-probe.ts';
import { newToken, Principals } from './access/index.ts';
import { ActorRuntime } from './actors/actor-runtime.ts';
import type { SupervisionReport } from './actors/entity-host.ts';
import { TicketBehavior } from './actors/ticket-actor.ts';
import { OwnershipBehavior } from './actors/ownership-actor.ts';
import { JoinBehavior } from './actors/join-actor.ts';
import { MergeSupervisor } from './actors/merge-actor.ts';
import { AgentBehavior, agentPolicyFrom, type Assignment } from './actors/agent-actor.ts';
import { AgentDirectory } from './actors/agent-directory.ts';
import { AlertBehavior } from './actors/alert-actor.ts';
import { SpecBehavior } from './actors/spec-actor.ts';
import { AlertStore } from './alerts/alert-store.ts';
import { AlertTriggerConsumer } from './alerts/trigger-consumer.ts';
import { ingressAudit, PostgresAuditLog } from './audit/index.ts';
import { agentOfNode } from './actors/local-agent.ts';
import { commandPublisher, effectPublisher, LocalExecutor, NodeSupervisor, TaskOutput } from './executor/index.ts';
import { AlertDelivery } from './alerts/delivery/index.ts';
import { Breakers } from './breakers/breakers.ts';
import { OutgoingWebhooks } from './webhooks/outgoing-webhooks.ts';
import { ensureMemoryIndexConsumer, MemoryIndexer, MemoryRecall, MemoryStore } from './memory/index.ts';
import { TicketPushes } from './delivery-git/ticket-pushes.ts';
import { ensurePartitionCount, LeaseManager } from './cluster/index.ts';
import type { OmoiConfig } from './config/index.ts';
import {
  embeddedAuthorization, loadOrCreateNatsAuth, NatsAuthFiles, startEmbeddedNats, startEmbeddedPostgres, writeClientEnv,
  type EmbeddedNats, type EmbeddedPostgres,
} from './embedded/index.ts';
import { errorMessage, RetryableError } from './errors.ts';
import { checkGitVersion, CommitStore, sweepClones, useRemoteBreakers, type TicketLiveness } from './git/index.ts';
import { EventFeed, startHttp, type Readiness } from './http/index.ts';
import { createLogger, type Logger } from './logging/logger.ts';
import { connectNats, type NatsConnection } from './messaging/connection.ts';
import { authenticates, credentialsOf } from './messaging/nats-credentials.ts';
import { DeadLetters } from './messaging/dead-letters.ts';
import { IngressRouter } from './messaging/ingress-router.ts';
import { AgentAuthenticator } from './messaging/agent-authenticator.ts';
import { openGitBucket } from './messaging/git-bucket.ts';
import { consumerLag } from './messaging/lag.ts';
import { OutboxPublisher } from './messaging/outbox.ts';
import { OutboxSweeper } from './messaging/outbox-sweeper.ts';
import { ExhaustedDeliveries } from './messaging/exhausted-deliveries.ts';
import { GroupCommitter } from './messaging/group-commit.ts';
import { PartitionWorker } from './messaging/partition-worker.ts';
import { Rejections } from './messaging/rejections.ts';
import { ensureStreams, partitionConsumer, ROUTER_CONSUMER, storageReplicas } from './messaging/streams.ts';
import { Metrics } from './metrics.ts';
import { decideIsolation } from './sandbox/index.ts';
import { postgresOutcomes, TaskApi } from './task-api/index.ts';
import { openDatabase, recordEvent, RetentionSweep, type Database } from './persistence/index.ts';
import { agentControlOf, encode, lookup, makeEnvelope, parseJson, partitionOf, Streams, Subjects, validatePayload, ProtocolError, type CommandDef, type Envelope, type PayloadOf } from './protocol/index.ts';

/** A running node. `stop()` is graceful and idempotent. */
export interface OmoiNode {
  config: OmoiConfig;
  log: Logger;
  db: Database;
  nc: NatsConnection;
  js: JetStreamClient;
  metrics: Metrics;
  runtime: ActorRuntime;
  leases: LeaseManager;
  breakers: Breakers;
  /** Deletes rows past their retention every `retentionSweepMs`; `sweep()` runs one now. */
  retention: RetentionSweep;
  httpUrl: string;
  apiToken: string;
  /** Validate and publish a command (as HTTP and the CLI do); `by`: the principal who asked (its source `http:<name>`). */
  submit(type: string, payload: unknown, opts?: { id?: string; by?: string }): Promise<{ id: string }>;
  readiness(): Promise<Readiness>;
  /** Resolves when every partition worker of this node is idle (tests, benchmarks). */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a node. Reads top to bottom as the wiring diagram of the system:
 * logger → database (embedded if no DATABASE_URL; migrations; the cluster's partition count) → NATS (embedded if no NATS_URL)
 * → JetStream streams and consumers → actor system → partition leases and workers →
 * ingress router → alert delivery → HTTP. Every step is logged; a failure stops what was started.
 */
export async function startNode(config: OmoiConfig, opts: { log?: Logger } = {}): Promise<OmoiNode> {
  const log = opts.log ?? createLogger(config.logLevel, config.nodeId);
  const cleanup: Array<() => Promise<void> | void> = [];
  const undo = async () => {
    for (const step of cleanup.reverse()) await Promise.resolve(step()).catch(() => undefined);
  };
  try {
    fs.mkdirSync(config.dataDir, { recursive: true });
    log.info({ nodeId: config.nodeId, dataDir: config.dataDir }, 'starting node');

    // 1. Database
    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      log.info('DATABASE_URL unset: starting embedded PostgreSQL');
      const pg: EmbeddedPostgres = await startEmbeddedPostgres({
        dataDir: config.postgresDir ?? path.join(config.dataDir, 'postgres'),
        binaryCacheDir: config.postgresBinaryCache,
        log: (line) => log.debug({ pg: line }),
        notice: (line) => log.info(line),
      });
      cleanup.push(() => pg.stop());
      databaseUrl = pg.url;
      // `omoi dlq` and other tools find the embedded database here while the node runs.
      fs.writeFileSync(path.join(config.dataDir, 'database-url'), pg.url + '\n', { mode: 0o600 });
      cleanup.push(() => fs.rmSync(path.join(config.dataDir, 'database-url'), { force: true }));
    }
    const db = await openDatabase(databaseUrl, log);
    cleanup.push(() => db.close());
    // Before anything is made per partition: a node with another count than the cluster's stops here.
    await ensurePartitionCount(db, config.partitions);

    // 2. NATS and JetStream
    let natsUrl = config.natsUrl;
    let natsCredentials = credentialsOf(config);
    if (!natsUrl) {
      log.info('NATS_URL unset: starting embedded nats-server (with authorization: users in the data directory)');
      // Every role has a user of its own (src/messaging/nats-permissions.ts); agents are added by `omoi nats-user`.
      const auth = loadOrCreateNatsAuth(config.dataDir);
      const nats: EmbeddedNats = await startEmbeddedNats({
        storeDir: NatsAuthFiles.storeDir(config.dataDir),
        log: (line) => log.debug({ nats: line }),
        authorization: () => embeddedAuthorization(config.dataDir),
      });
      cleanup.push(() => nats.stop());
      natsUrl = nats.url;
      // NATS_* credentials describe an external server; the embedded one knows only its own users.
      if (authenticates(natsCredentials)) log.warn('NATS_URL unset: the NATS_* credentials are ignored; the node uses its own user of the embedded server');
      natsCredentials = { user: auth.node.user, password: auth.node.password };
      writeClientEnv(config.dataDir, nats.url, auth.client);
    }
    const nc = await connectNats(natsUrl, `omoi-${config.nodeId}`, log, natsCredentials);
    cleanup.push(() => nc.drain().catch(() => nc.close()));
    const jsm = await jetstreamManager(nc, { checkAPI: false }); // a cluster still electing its leader answers below, retried
    await untilJetStreamAnswers(log, () => ensureStreams(jsm, { ...config, replicas: storageReplicas(config), warn: (fields, message) => log.warn(fields, message) }));
    const js = jetstream(nc);
    // A node's disk is a cache: commits travel between nodes through this bucket.
    const commits = new CommitStore({ dataDir: config.dataDir, bucket: await openGitBucket(js, storageReplicas(config)) });
    log.info({ partitions: config.partitions, replicas: storageReplicas(config) }, 'jetstream streams, consumers and the git bucket ready');

    // 3. Actors
    const metrics = new Metrics();
    // Circuit breakers around what this node calls outside itself (git remotes, alert routes,
    // resolver and agent commands): each state change is an event (and an alert while open).
    const breakers = new Breakers({
      threshold: config.breakerThreshold, halfOpenAfterMs: config.breakerHalfOpenMs,
      onChange: (c) => {
        metrics.breakerChanged(c.breaker, c.state, breakers.states());
        publishDirect(js, config.nodeId, log, 'breaker.state', { node_id: config.nodeId, ...c });
      },
    });
    cleanup.push(useRemoteBreakers(config.dataDir, breakers)); // clones and fetches of this node's git remotes
    const report = supervisionReporter(js, db, config.nodeId, log);
    const runtime = new ActorRuntime({
      db, log, metrics, report,
      supervision: config,
      idleMs: config.idlePassivateMs,
      askTimeoutMs: Math.max(5_000, Math.floor(config.ackWaitMs / 2)),
    });
    cleanup.push(() => runtime.stop());
    const publish = commandPublisher(js, config.partitions, config.nodeId);
    const isolation = await decideIsolation(config.sandbox, [config.dataDir, os.homedir()], config.sandboxWritable);
    if (isolation.mode === 'none') log.warn('OMOI_SANDBOX=none: task commands run unsandboxed, as this node\'s user, and can read its data directory');
    if (isolation.mode === 'unavailable') log.error({ reason: isolation.reason }, 'task commands are refused: they cannot be sandboxed here');
    // Results of effects (tasks, merges) are never fire-and-forget: published, or kept in the
    // outbox for the sweep (src/executor/effect-publisher.ts); given up only when the node stops.
    const outbox = new OutboxPublisher({ js, db, log });
    const stopEffects = new AbortController();
    const publishResult = effectPublisher({ js, outbox, log, partitions: config.partitions, source: config.nodeId, signal: stopEffects.signal });
    // MergeActors: children of their JoinActor (final merges: of a node-level supervisor).
    const merges = new MergeSupervisor({ dataDir: config.dataDir, publish: publishResult, log, metrics, report, supervision: config, root: runtime.root, idleMs: config.idlePassivateMs, isolation, commits, breakers });
    cleanup.push(() => merges.stopAll());
    const agentPolicy = agentPolicyFrom(config);
    const apiToken = config.apiToken ?? readOrCreateToken(config.dataDir);
    // Task output stays on the node that ran it; any node's dashboard reads and follows it over NATS.
    const taskOutput = new TaskOutput({ nc, db, dataDir: config.dataDir, nodeId: config.nodeId, secrets: [apiToken], log });
    taskOutput.serve();
    cleanup.push(() => taskOutput.close());
    // Each attempt's own API (a unix socket, a token): the task adds tasks, splits itself, reports progress.
    const taskApi = new TaskApi({
      publish: (type, payload, id, source) => commandPublisher(js, config.partitions, source)(type, payload, id),
      outcomes: postgresOutcomes(db), audit: new PostgresAuditLog({ db, log }), log, maxCalls: config.taskApiMaxCalls,
    });
    const executor = new LocalExecutor({
      dataDir: config.dataDir, publish: publishResult, log, capacity: config.localAgentCapacity, agentTemplate: config.agentCommand,
      pool: { size: config.sandboxPool, perRepository: config.sandboxPoolPerRepository, idleMs: config.sandboxPoolIdleMs },
      isolation, commits, breakers,
      // Output of a running command is progress (`task.progress`), reported a few times per stall
      // period; best effort: a report lost to a NATS hiccup is made again at the next look.
      progress: (ref) => void publish('task.progress', ref, `progress:${ref.ticket_id}:${ref.task_id}:${ref.attempt}:${Date.now()}`)
        .catch((err) => log.debug({ ...ref, err: errorMessage(err) }, 'could not report task progress')),
      progressEveryMs: Math.max(200, Math.min(60_000, Math.floor(config.taskStallMs / 3))),
      output: taskOutput, taskApi,
      secrets: [apiToken],
    });
    cleanup.push(() => executor.stop());
    cleanup.push(() => stopEffects.abort()); // runs before executor.stop(): a report retrying forever would hold it
    await checkGitVersion();
    const swept = await executor.sweep();
    if (swept.length) log.info({ sandboxes: swept }, 'removed sandboxes left by a crash');
    // The clone cache (src/git/clone-cache.ts): links of tickets that no longer need them, then
    // clones no ticket links to; at start, then hourly.
    const sweepCloneCache = () => sweepClones(config.dataDir, {
      tickets: (ids) => ticketLiveness(db, ids), retainFinishedMs: config.cloneRetainFinishedMs, graceMs: CLONE_GRACE_MS,
      beforeRemove: (clone) => executor.forgetRepository(clone),
    })
      .then((r) => { if (r.links.length || r.clones.length) log.info(r, 'removed clones no ticket needs'); }, (err) => log.warn({ err: errorMessage(err) }, 'clone sweep failed'));
    await sweepCloneCache();
    const cloneSweeper = setInterval(() => void sweepCloneCache(), CLONE_SWEEP_MS).unref();
    cleanup.push(() => clearInterval(cloneSweeper));
    const ownership = runtime.register(new OwnershipBehavior());
    const joins = runtime.register(new JoinBehavior({ dataDir: config.dataDir, merges }));
    // A node silent this long is gone (its local agent gets no work, and is woken to fail what it
    // ran). Lenient on purpose: a loaded node's heartbeat may lag well past its lease TTL.
    const nodeGoneAfterMs = Math.max(10_000, 5 * config.heartbeatMs);
    const ownAgentId = agentOfNode(config.nodeId);
    const agents = new AgentDirectory(undefined, nodeGoneAfterMs);
    const budgetDefaults = { warnShare: config.budgetWarnShare, onExceeded: config.budgetOnExceeded };
    // Memory of past work: a starting task's context recalls the repository's earlier results and conflict resolutions.
    const memory = new MemoryStore(db);
    // Pushes of completed tickets' branches (delivery): rows the TicketActor writes, delivered
    // with retries by a dispatcher on every node (started with the other deliveries, below).
    const pushes = new TicketPushes({
      db, dataDir: config.dataDir, commits, breakers, publish, log,
      maxAttempts: config.pushMaxAttempts, retryBaseMs: config.pushRetryBaseMs, timeoutMs: config.pushTimeoutMs,
      count: (outcome) => metrics.ticketPushes.inc({ outcome }),
    });
    cleanup.push(() => pushes.stop());
    runtime.register(new TicketBehavior({
      dataDir: config.dataDir, ownership: () => ownership, joins: () => joins, merges, publish, agents, commits, pushes,
      budgetDefaults, onUsage: (charge, outcome) => metrics.countUsage(charge, outcome),
      maxConflictsAutoResolve: config.maxConflictsAutoResolve, messages: { partitions: config.partitions, source: config.nodeId },
      memory: new MemoryRecall({ store: memory, log, limit: config.memoryContextLimit, timeoutMs: config.memoryRecallTimeoutMs }),
    }));
    runtime.register(new AgentBehavior({
      policy: agentPolicy, budgetDefaults,
      compatibility: { ranges: config.agentCompatibility, commandSha256: config.agentCommandSha256 ?? null, minDiskPerSlotBytes: config.agentMinDiskPerSlotMb * 1024 * 1024 },
      agentChanged: () => agents.invalidate(),
      runLocal: (a) => executor.run(a),
      localAgentId: ownAgentId,
      // Alive: a heartbeat within `nodeGoneAfterMs` (lenient: a loaded node's heartbeat lags, and
      // a live node's agent judged dead would lose the attempts it runs).
      nodeAlive: async (nodeId, ctx) => (await ctx.scope.em.getConnection().execute(
        `select 1 from omoi_node where id = ? and status = 'up' and heartbeat_at > now() - ?::interval`,
        [nodeId, `${nodeGoneAfterMs} milliseconds`], 'all', ctx.scope.em.getTransactionContext(),
      )).length > 0,
      stopLocal: (key) => executor.stopAttempt(key),
      liveLocal: () => executor.liveKeys(),
    }));
    // AlertActors: one per fingerprint; the config file's `alerts:` rules decide severity, dedupe and routes.
    runtime.register(new AlertBehavior({ config: () => config.alerts, opened: (kind, severity) => metrics.alertsRaised.inc({ kind, severity }) }));
    // SpecActors: one per spec; a goal planned phase by phase into one ticket (src/actors/spec-actor.ts).
    runtime.register(new SpecBehavior({ messages: { partitions: config.partitions, source: config.nodeId } }));
    const alerts = new AlertStore(db);
    metrics.countOpenAlerts = () => alerts.countOpen();
    // This node's local agent may be handled by any node (its partition's holder): its
    // assignments come here on its assignment subject, like a remote agent's, read from the
    // stream that stored them (an ordered consumer resumes where it was after a reconnect, so
    // an offer made while this node was cut off from NATS is not lost). Those made before
    // this process started were its predecessor's: registering the agent failed them.
    // Its stops (an attempt cancelled or expired) and controls (drain, shutdown, …) come the same way.
    const ownAssignments = await (await js.consumers.get(Streams.events, {
      filter_subjects: Subjects.agentAll(ownAgentId), deliver_policy: DeliverPolicy.New,
    })).consume({
      callback: (msg) => {
        try {
          if (msg.subject === Subjects.agentStops(ownAgentId)) {
            const p = validatePayload('agent.task_ended', parseJson(msg.data)) as PayloadOf<'agent.task_ended'>;
            executor.stopAttempt(`${p.ticket_id}/${p.task_id}/${p.attempt}`);
          } else if (msg.subject === Subjects.agentControls(ownAgentId)) {
            // The scheduler already offers a draining agent nothing, and its AgentActor removes a
            // shutting-down one once its attempts end: the node only says it heard.
            const c = agentControlOf(parseJson(msg.data));
            log.info({ agent: ownAgentId, kind: c.kind, control_id: c.control_id, reason: c.reason, message: c.message }, `this node's agent got a ${c.kind} control`);
            if (c.ack) {
              void publish('agent.control_acknowledged', { agent_id: ownAgentId, control_id: c.control_id }, `control-ack:${ownAgentId}:${c.control_id}`)
                .catch((err: unknown) => log.warn({ err: errorMessage(err), control_id: c.control_id }, 'could not acknowledge a control of this node\'s agent'));
            }
          } else {
            executor.run(validatePayload('agent.assign', parseJson(msg.data)) as Assignment);
          }
        } catch (e) {
          log.warn({ err: errorMessage(e), subject: msg.subject }, 'ignored a malformed message for this node\'s local agent');
        }
      },
    });
    cleanup.push(() => void ownAssignments.stop());
    // This node's local agent, registered at start (and again by the supervisor should another
    // node have judged this one gone and failed it: its node is alive, so it works again).
    // It reports its command binary's checksum and its free disk for the compatibility checks.
    const registerLocalAgent = async (id = `register-local:${config.nodeId}:${Date.now()}`) => publish('agent.register', {
      agent_id: ownAgentId, name: `local agent of ${config.nodeId}`, phase: 'execute', capabilities: config.localAgentCapabilities,
      version: '1.0.0', kind: 'local', capacity: config.localAgentCapacity,
      ...await probeLocalAgent({ agentCommand: config.agentCommand, dataDir: config.dataDir }),
    }, id);
    // Recovery on partition takeover, agent heartbeat supervision, stuck-ready sweep.
    const supervisor = new NodeSupervisor({
      db, log, publish, partitions: config.partitions, intervalMs: Math.max(200, config.heartbeatMs), policy: agentPolicy,
      held: () => leases, liveAttempts: () => executor.liveKeys(), liveMerge: (ticket, join, attempt) => merges.isRunning(ticket, join, attempt),
      localAgentId: ownAgentId, attemptSilenceMs: config.attemptSilenceMs, nodeGoneAfterMs,
      stalls: { taskStallMs: config.taskStallMs, taskStallAction: config.taskStallAction, ticketStallMs: config.ticketStallMs },
      // One revival per 10 s window (a deduplicated id): the failed row stays until it is handled.
      reviveLocalAgent: () => registerLocalAgent(`register-local:${config.nodeId}:revive:${Math.floor(Date.now() / 10_000)}`), expired: (status) => metrics.attemptsExpired.inc({ status }),
    });
    supervisor.start();
    cleanup.push(() => supervisor.stop());
    // This node's local agent (runs tasks in sandboxes here); it starts healthy.
    await registerLocalAgent();
    log.info({ actors: runtime.registeredTypes() }, 'actor system started');

    // 4. Partitions: leases decide which workers run here
    const rejections = new Rejections({ db, js, log, metrics, source: config.nodeId, partitions: config.partitions });
    // Messages JetStream gave up on without a worker deciding (last delivery never acked): dead letters.
    const exhausted = new ExhaustedDeliveries({ nc, jsm, rejections, log });
    // And those whose announcement was lost, on the consumers of the partitions this node holds
    // (the router's with partition 0), once nothing awaits an ack there.
    exhausted.start({
      intervalMs: config.retentionSweepMs, graceMs: config.ackWaitMs + 60_000,
      consumers: () => leases.owned().flatMap((p) => [
        { stream: Streams.partitions, consumer: partitionConsumer(p) },
        ...(p === 0 ? [{ stream: Streams.ingress, consumer: ROUTER_CONSUMER }] : []),
      ]),
    });
    cleanup.push(() => exhausted.stop());
    const workers = new Map<number, PartitionWorker>();
    // One transaction serves the batches of every partition this node holds (group commit).
    const committer: GroupCommitter = new GroupCommitter({ db, log, leases: { epoch: (p) => leases.epoch(p), assertHeld: (em, e) => leases.assertHeld(em, e) }, dispatch: runtime.dispatch, outbox, partitions: config.partitions, nodeId: config.nodeId });
    let httpUrl: string | undefined;
    /** `node.status` `started` was published: changes of the partitions held are announced from then on. */
    let announced = false;
    const leases: LeaseManager = new LeaseManager({
      db, log, nodeId: config.nodeId, partitions: config.partitions, heartbeatMs: config.heartbeatMs, httpUrl: () => httpUrl,
      onAcquired: async (partition) => {
        runtime.invalidateAll(); // actors of this partition may hold state from an earlier holding
        const worker: PartitionWorker = new PartitionWorker(partition, {
          js, log, metrics, committer, outbox, rejections, fetchBatch: config.fetchBatch, maxDeliver: config.maxDeliver, prepare: runtime.prepare,
          ackWaitMs: config.ackWaitMs,
          databaseUp: () => db.em().getConnection().execute('select 1').then(() => true, () => false),
          onFenced: () => {
            // Only this worker: the partition may have been acquired again meanwhile, by a new
            // worker that must stay in the map (an unmapped worker is never drained and would
            // pull, fenced, forever, spending every message's deliveries).
            if (workers.get(partition) === worker) workers.delete(partition);
            metrics.partitions.set(workers.size);
            void worker.drain();
          },
        });
        workers.set(partition, worker);
        await worker.start();
        metrics.partitions.set(workers.size);
      },
      onLost: async (partition) => {
        const worker = workers.get(partition);
        workers.delete(partition);
        await worker?.drain();
        metrics.partitions.set(workers.size);
      },
      // A node that stopped heartbeating without releasing its partitions: a `node_lost` alert.
      onNodeLost: (node, partitions) => publishDirect(js, config.nodeId, log, 'node.lost', { node_id: node, by: config.nodeId, partitions }),
      // Once started (announced below), each change of what it holds: the cluster view follows rebalancing as it happens.
      onHeldChanged: (owned) => {
        if (announced) publishDirect(js, config.nodeId, log, 'node.status', { node_id: config.nodeId, status: 'partitions', partitions: owned });
      },
    });
    await leases.start();
    // Committed effects are re-driven continuously, not only when a partition worker starts.
    const sweeper = new OutboxSweeper({ outbox, held: () => leases.owned(), log });
    sweeper.start();
    cleanup.push(() => sweeper.stop());
    // Bounded storage: rows past their retention go, in small batches, one node at a time.
    const retention = new RetentionSweep({
      db, log, config,
      deleted: (table, rows) => metrics.retentionDeleted.inc({ table }, rows),
      swept: (outcome) => metrics.retentionSweeps.inc({ outcome }),
    }, { intervalMs: config.retentionSweepMs });
    retention.start();
    cleanup.push(() => retention.stop());
    log.info({ partitions: leases.owned().length }, 'partition leases acquired');
    const announce = (status: string) => publishDirect(js, config.nodeId, log, 'node.status', { node_id: config.nodeId, status, partitions: leases.owned() });
    announce('started');
    announced = true;

    // 5. Ingress: outside commands are validated (remote agents' signatures checked) and routed to partitions, each one audited
    const audit = new PostgresAuditLog({ db, log });
    const agentAuth = new AgentAuthenticator({ db, log, maxAgeMs: config.signatureMaxAgeMs });
    const router = new IngressRouter({ js, log, metrics, rejections, partitions: config.partitions, maxDeliver: config.maxDeliver, source: config.nodeId, agents: agentAuth, audit: ingressAudit(audit) });
    await router.start();
    // Alert triggers: domain events → `alert.raise` / `alert.clear` (src/alerts/triggers.ts), each event once cluster-wide.
    const alertTriggers = new AlertTriggerConsumer({ js, log, publish });
    await alertTriggers.start();
    cleanup.push(() => alertTriggers.drain());

    // 6. Alert delivery, off the actors' path: one durable shared by the cluster records each
    // `alert.raised` notification per route; a dispatcher on every node delivers them (webhook,
    // Slack, e-mail) with retries, behind the `webhook` and `smtp` breakers.
    const alertDelivery = await AlertDelivery.start({ js, jsm, db, breakers, log, metrics, config, dashboardUrl: () => httpUrl });
    cleanup.push(() => alertDelivery.stop());
    // Outgoing webhooks, the same way: one durable shared by the cluster records each domain event
    // per matching subscription; a dispatcher on every node sends them signed, behind a breaker per subscription.
    const webhooks = await OutgoingWebhooks.start({ js, jsm, db, breakers, log, metrics, config });
    cleanup.push(() => webhooks.stop());
    // Memory of past work, the same way: one durable shared by the cluster indexes task results,
    // failure reasons and merge resolutions into `omoi_memory` (src/memory/), once per event.
    await ensureMemoryIndexConsumer(jsm, config.ackWaitMs);
    const memoryIndexer = new MemoryIndexer({ js, db, store: memory, log });
    await memoryIndexer.start();
    cleanup.push(() => memoryIndexer.stop());
    pushes.start();

    const submit = async (type: string, payload: unknown, o: { id?: string; by?: string } = {}) => {
      const def = lookup(type);
      if (def?.kind !== 'command' || !(def as CommandDef).ingress) throw new ProtocolError('unknown_type', `${JSON.stringify(type)} is not a command clients may send`, '/type', type);
      const valid = validatePayload(type, payload);
      // Sent for a principal (HTTP): the source says who (a cancelled task records it).
      const env = makeEnvelope(type, valid, { source: o.by ? `http:${o.by}` : config.nodeId, id: o.id });
      const { entity, id } = (def as CommandDef).route(valid as never);
      try {
        await js.publish(Subjects.partition(partitionOf(entity, id, config.partitions), type), encode(env), { msgID: env.id });
      } catch (err) {
        // NATS down or restarting: the caller may retry (HTTP answers 503 with Retry-After).
        throw new RetryableError('nats_unavailable', `could not publish ${type}: ${errorMessage(err)}`);
      }
      return { id: env.id };
    };
    const readiness = async (): Promise<Readiness> => {
      const checks: Readiness['checks'] = {};
      checks.database = await db.orm.isConnected().then((ok) => ({ ok }), (e) => ({ ok: false, detail: errorMessage(e) }));
      checks.nats = nc.isClosed() ? { ok: false, detail: 'closed' } : { ok: true, detail: nc.getServer() };
      checks.partitions = { ok: workers.size > 0 || leases.owned().length === 0, detail: `${workers.size} held` };
      return { ready: Object.values(checks).every((c) => c.ok), checks };
    };

    // 7. HTTP: API (principals with roles; the node's token is the bootstrap admin), dashboard, health, readiness, metrics
    const principals = new Principals(db);
    // One subscription per node to the whole cluster's events, fanned out to `/api/events/stream`.
    const events = await EventFeed.start({ js, jsm, log });
    cleanup.push(() => events.stop());
    const http = await startHttp({ config: { ...config, apiToken }, log, metrics, db, readiness, submit, principals, audit, alerts, deadLetters: new DeadLetters({ db, js, source: config.nodeId }), lag: () => consumerLag(jsm, config.partitions), breakers, events, taskOutput });
    httpUrl = http.url;
    log.info({ url: http.url }, 'http server listening');

    let stopping: Promise<void> | undefined;
    const node: OmoiNode = {
      config, log, db, nc, js, metrics, runtime, leases, breakers, retention, httpUrl: http.url, apiToken, submit, readiness,
      idle: async () => {
        await Promise.all([...workers.values()].map((w) => w.whenIdle()));
      },
      stop: () =>
        (stopping ??= (async () => {
          log.info('stopping node: draining partitions');
          await http.close().catch(() => undefined);
          await router.drain();
          const drained = Promise.all([...workers.values()].map((w) => w.drain()));
          await Promise.race([drained, sleep(config.shutdownGraceMs)]);
          announce('stopping');
          await leases.release().catch((e) => log.warn({ err: errorMessage(e) }, 'could not release leases'));
          await undo();
          log.info('node stopped');
        })()),
    };
    return node;
  } catch (err) {
    await undo();
    throw err;
  }
}

/** Best-effort event outside any partition transaction (node lifecycle, supervision); returns its envelope. */
function publishDirect(js: JetStreamClient, source: string, log: Logger, type: string, payload: Record<string, unknown>): Envelope {
  const env = makeEnvelope(type, validatePayload(type, payload), { source });
  js.publish(Subjects.event(type), encode(env), { msgID: env.id }).catch((e) => log.warn({ err: errorMessage(e), type }, 'could not publish event'));
  return env;
}

/**
 * Each crash, restart and escalation of this node's actors, as an `actor.supervision` event
 * (an escalation becomes an `actor_escalated` alert, src/alerts) and a row of the event log
 * for `GET /api/supervision`; both best effort (a crash may come from the database being down).
 */
function supervisionReporter(js: JetStreamClient, db: Database, nodeId: string, log: Logger) {
  // One insert at a time, so the log keeps the order they happened in (a crash, then its restart).
  let recorded: Promise<void> = Promise.resolve();
  return (r: SupervisionReport) => {
    const env = publishDirect(js, nodeId, log, 'actor.supervision', { ...r, node_id: nodeId });
    recorded = recorded.then(() => recordEvent(db, env.id, env)).catch((e) => log.warn({ err: errorMessage(e) }, 'could not record a supervision event'));
  };
}

function readOrCreateToken(dataDir: string): string {
  const file = path.join(dataDir, 'api-token');
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  const token = newToken();
  fs.writeFileSync(file, token + '\n', { mode: 0o600 });
  return token;
}

/** A link or clone younger than this is never swept: its ticket's transaction may not have committed yet. */
const CLONE_GRACE_MS = 10 * 60_000;
const CLONE_SWEEP_MS = 3_600_000;

/** The status and last change of these tickets' rows (tickets without a row are absent). */
async function ticketLiveness(db: Database, ids: string[]): Promise<Map<string, TicketLiveness>> {
  const rows = await db.em().getConnection().execute('select id, status, updated_at from omoi_ticket where id in (?)', [ids]) as Array<{ id: string; status: string; updated_at: Date | string }>;
  return new Map(rows.map((r) => [r.id, { status: r.status, updatedAt: new Date(r.updated_at) }]));
}

/**
 * Runs `step` again while JetStream is not answering yet: a NATS cluster that has just formed
 * (or lost a server) answers "temporarily unavailable" until it has elected its leaders.
 */
async function untilJetStreamAnswers(log: Logger, step: () => Promise<void>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await step();
    } catch (err) {
      if (Date.now() > deadline || !/temporarily unavailable|timeout|no responders|503/i.test(errorMessage(err))) throw err;
      log.warn({ err: errorMessage(err) }, 'jetstream not answering yet: retrying');
      await sleep(1_000);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
