import semver from 'semver';
import { ConfigError, TerminalError } from '../errors.ts';
import { PROTOCOL_VERSION } from '../protocol/envelope.ts';

/**
 * What a registration must meet besides its schema: the agent's version within the range
 * configured for the protocol version it speaks, the local agent's command binary matching its
 * checksum when one is configured, and enough free disk for the sandboxes of its declared
 * capacity when it reports its disk (the local agent always does; a remote agent may).
 */
export interface CompatibilityPolicy {
  /** Agent version ranges (semver, e.g. `>=1.0.0 <2.0.0`) by protocol version. */
  ranges: Record<string, string>;
  /** sha256 (hex) the local agent's command binary must have; null: not checked. */
  commandSha256: string | null;
  /** Free disk an agent needs per declared slot (bytes); 0: not checked. */
  minDiskPerSlotBytes: number;
}

/** Protocol 1 accepts agents 1.x (prereleases included). */
export const DEFAULT_COMPATIBILITY: Readonly<Record<string, string>> = { [String(PROTOCOL_VERSION)]: '>=1.0.0-0 <2.0.0' };

/** What a registration says about itself for these checks (`agent.register`). */
export interface RegistrationFacts {
  agent_id: string;
  version: string;
  kind: 'local' | 'remote';
  capacity: number;
  protocol_version?: number;
  command_sha256?: string;
  resources?: { disk_free_bytes?: number };
}

/** Stable codes of a refused registration (its dead letter, and `omoi.errors.<code>`). */
export const IncompatibleCode = {
  protocol: 'unsupported_protocol',
  version: 'incompatible_version',
  checksum: 'checksum_mismatch',
  disk: 'insufficient_disk',
} as const;

/** Throws a `TerminalError` naming the first check the registration fails. */
export function checkCompatibility(p: RegistrationFacts, policy: CompatibilityPolicy): void {
  const protocol = p.protocol_version ?? PROTOCOL_VERSION;
  if (protocol !== PROTOCOL_VERSION) {
    throw new TerminalError(IncompatibleCode.protocol, `agent ${p.agent_id} speaks protocol ${protocol}; this cluster speaks ${PROTOCOL_VERSION}`, { agent_id: p.agent_id, protocol_version: protocol });
  }
  const range = policy.ranges[String(protocol)];
  if (range !== undefined && !semver.satisfies(p.version, range, { includePrerelease: true })) {
    throw new TerminalError(IncompatibleCode.version, `agent ${p.agent_id} is version ${p.version}; protocol ${protocol} accepts agents ${range}`, { agent_id: p.agent_id, version: p.version, range });
  }
  if (p.kind === 'local' && policy.commandSha256 !== null && p.command_sha256 !== policy.commandSha256) {
    throw new TerminalError(IncompatibleCode.checksum, p.command_sha256 === undefined
      ? `agent ${p.agent_id} has no agent command to check against OMOI_AGENT_COMMAND_SHA256`
      : `agent ${p.agent_id}'s command binary has sha256 ${p.command_sha256}, not the configured ${policy.commandSha256}`, { agent_id: p.agent_id });
  }
  const free = p.resources?.disk_free_bytes;
  const needed = policy.minDiskPerSlotBytes * p.capacity;
  if (free !== undefined && needed > 0 && free < needed) {
    throw new TerminalError(IncompatibleCode.disk, `agent ${p.agent_id} has ${mib(free)} MiB free for sandboxes; its capacity of ${p.capacity} needs ${mib(needed)} MiB (OMOI_AGENT_MIN_DISK_PER_SLOT_MB each)`, { agent_id: p.agent_id, disk_free_bytes: free, needed_bytes: needed });
  }
}

const mib = (bytes: number) => Math.floor(bytes / 1024 / 1024);

/** The `agent_compatibility:` section of the config file: protocol version → a valid semver range. */
export function parseCompatibilityConfig(raw: unknown): Record<string, string> {
  if (raw === undefined || raw === null) return { ...DEFAULT_COMPATIBILITY };
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError('agent_compatibility', 'must map protocol versions to agent version ranges, e.g. "1": ">=1.0.0 <2.0.0"');
  const ranges: Record<string, string> = {};
  for (const [protocol, range] of Object.entries(raw)) {
    if (!/^[1-9]\d{0,3}$/.test(protocol)) throw new ConfigError('agent_compatibility', `${JSON.stringify(protocol)} is not a protocol version (a whole number)`);
    if (typeof range !== 'string' || semver.validRange(range) === null) throw new ConfigError('agent_compatibility', `the range for protocol ${protocol}, ${JSON.stringify(range)}, is not a semver range`);
    ranges[protocol] = range;
  }
  return ranges;
}
