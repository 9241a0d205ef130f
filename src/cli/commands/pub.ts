import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { errors, headers, type NatsConnection } from '@nats-io/transport-node';
import { AuditChannel, CHANNEL_HEADER } from '../../audit/index.ts';
import { errorMessage } from '../../errors.ts';
import { decodeIngress, ProtocolError, signAgentMessage, SIGNED_AGENT_TYPES, Subjects } from '../../protocol/index.ts';
import { CliError } from '../cli-error.ts';
import { connectCli, natsTarget } from '../nats-client.ts';

export interface PubOptions {
  natsUrl?: string;
  /** Sent as `Nats-Msg-Id`: JetStream and the node deduplicate on it. */
  id?: string;
  /** Check `omoi.in.<type>` input with the protocol codec before sending (default true). */
  validate?: boolean;
  /** Sign as this remote agent (docs/protocol.md, *Signing*), with the private key (PEM) in `key`. */
  agent?: string;
  key?: string;
}

const INGRESS_PREFIX = Subjects.ingress('');

/**
 * `omoi pub <subject> <json|@file>`: sends `input` (literal text, `@path` for a file's bytes,
 * `@-` for stdin) unchanged. Input for `omoi.in.<type>` is first checked as the node will
 * check it; a problem throws `CliError` naming the field and nothing is sent. Subjects
 * stored by a JetStream stream are published with JetStream and the ack is awaited (so the
 * message is durably stored when this returns); others are published plainly. Returns the
 * line to print.
 */
export async function runPub(subject: string, input: string, opts: PubOptions): Promise<string> {
  if (!subject || /\s/.test(subject) || /[*>]/.test(subject)) throw new CliError(`${JSON.stringify(subject)} is not a subject one can publish to`);
  const body = readInput(input);
  if (opts.validate !== false && subject.startsWith(INGRESS_PREFIX)) checkIngress(subject, body, opts.id);
  if (opts.validate !== false && subject.startsWith(INGRESS_PREFIX) && SIGNED_AGENT_TYPES.has(subject.slice(INGRESS_PREFIX.length)) && !opts.agent) {
    throw new CliError(`${subject} is a remote agent's message: sign it with --agent <id> --key <private key file> (nothing sent; --no-validate sends it unsigned, to be refused)`);
  }
  const signed = opts.agent || opts.key ? signedHeaders(subject, body, opts) : undefined;

  const nc = await connectCli(natsTarget(opts.natsUrl));
  const refused = publishRefused(nc, subject);
  try {
    const stream = await streamOf(nc, subject);
    // The audit log records commands sent this way with channel `cli` (other NATS clients: `nats`).
    const h = signed ?? headers(); // signed: already has its Nats-Msg-Id
    h.set(CHANNEL_HEADER, AuditChannel.cli);
    if (stream) {
      const ack = await Promise.race([refused, jetstream(nc).publish(subject, body, { ...(opts.id && !signed ? { msgID: opts.id } : {}), headers: h, timeout: 10_000 })]);
      const dup = ack.duplicate ? ' (duplicate: a message with this Nats-Msg-Id is already stored; not stored again)' : '';
      return `published to ${subject}: stream ${ack.stream} seq ${ack.seq}${dup}`;
    }
    if (opts.id && !signed) h.set('Nats-Msg-Id', opts.id);
    nc.publish(subject, body, { headers: h });
    await Promise.race([refused, nc.flush()]);
    const hint = subject.startsWith('omoi.') ? ' (no stream stores this subject: has a node ever started on this NATS server? only current subscribers see it)' : '';
    return `published to ${subject}: plain NATS publish${hint}`;
  } catch (err) {
    if (err instanceof CliError) throw err;
    if (isPermissionViolation(err)) throw refusal(subject);
    throw new CliError(`could not publish to ${subject}: ${errorMessage(err)}`);
  } finally {
    await nc.drain().catch(() => nc.close());
  }
}

/**
 * Rejects with a `CliError` when the server refuses this connection's publish to `subject`
 * (a permissions violation: it comes back asynchronously, and a JetStream publish would
 * otherwise only time out). Never resolves otherwise.
 */
function publishRefused(nc: NatsConnection, subject: string): Promise<never> {
  const refused = new Promise<never>((_, reject) => {
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'error' && s.error instanceof errors.PermissionViolationError && s.error.operation === 'publish' && s.error.subject === subject) {
          reject(refusal(subject));
          return;
        }
      }
    })().catch(() => undefined);
  });
  refused.catch(() => undefined); // raced above; unobserved once the publish settles
  return refused;
}

/** True if `err`, or an error it wraps (a JetStream publish wraps its request's), is a permissions violation. */
function isPermissionViolation(err: unknown): boolean {
  for (let e = err; e instanceof Error; e = e.cause) if (e instanceof errors.PermissionViolationError) return true;
  return false;
}

function refusal(subject: string): CliError {
  return new CliError(`NATS refused the publish to ${subject}: this user may not publish there (clients may publish only on omoi.in.>) [nats_permission_denied]`);
}

function readInput(input: string): Uint8Array {
  if (!input.startsWith('@')) return Buffer.from(input, 'utf8');
  const file = input.slice(1);
  try {
    return fs.readFileSync(file === '-' ? 0 : file);
  } catch (err) {
    throw new CliError(`cannot read ${file === '-' ? 'stdin' : file}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
  }
}

/** The signature headers of an agent's message (its id: `--id`, or a fresh uuid). */
function signedHeaders(subject: string, body: Uint8Array, opts: PubOptions) {
  if (!opts.agent || !opts.key) throw new CliError('signing needs both --agent <id> and --key <private key file>');
  if (!subject.startsWith(INGRESS_PREFIX)) throw new CliError(`only messages on ${INGRESS_PREFIX}<type> are signed, not ${subject}`);
  let pem: Buffer;
  try {
    pem = fs.readFileSync(opts.key);
  } catch (err) {
    throw new CliError(`cannot read the key ${opts.key}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
  }
  let signed: Record<string, string>;
  try {
    signed = signAgentMessage({ subject, body, msgId: opts.id ?? randomUUID(), agentId: opts.agent, privateKey: pem.toString('utf8') });
  } catch (err) {
    throw new CliError(`cannot sign with ${opts.key}: ${errorMessage(err)} (an ed25519 private key, PEM)`);
  }
  const h = headers();
  for (const [k, v] of Object.entries(signed)) h.set(k, v);
  return h;
}

function checkIngress(subject: string, body: Uint8Array, id: string | undefined): void {
  try {
    decodeIngress(subject, body, id, 'omoi-cli');
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    throw new CliError(`invalid message for ${subject}: ${err.reason} [${err.code}] (nothing sent; --no-validate sends it anyway)`);
  }
}

/** The stream that stores `subject`, or undefined (no such stream, or no JetStream at all). */
async function streamOf(nc: NatsConnection, subject: string): Promise<string | undefined> {
  try {
    const jsm = await jetstreamManager(nc, { timeout: 5_000 });
    return await jsm.streams.find(subject);
  } catch {
    return undefined;
  }
}
