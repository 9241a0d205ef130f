/**
 * A small JSON file next to a server's data, recording which process runs the server and
 * which process owns it. At the next start it tells a server orphaned by a crashed owner
 * (stop it) from one whose owner is still alive (refuse: the data is in use).
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { isRunning, processStartTime } from './processes.ts';

export interface ServerRecord {
  serverPid: number;
  ownerPid: number;
  /** Kernel start time of the owner, so that a reused pid is not mistaken for the owner. */
  ownerStartTime: string | undefined;
}

export async function writeServerRecord(file: string, serverPid: number): Promise<void> {
  const record: ServerRecord = {
    serverPid,
    ownerPid: process.pid,
    ownerStartTime: await processStartTime(process.pid),
  };
  await writeFile(file, JSON.stringify(record) + '\n', { mode: 0o600 });
}

/** The record in `file`, or undefined when it is missing or unreadable. */
export async function readServerRecord(file: string): Promise<ServerRecord | undefined> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<ServerRecord>;
    if (typeof parsed.serverPid !== 'number' || typeof parsed.ownerPid !== 'number') return undefined;
    return { serverPid: parsed.serverPid, ownerPid: parsed.ownerPid, ownerStartTime: parsed.ownerStartTime };
  } catch {
    return undefined;
  }
}

/** True if the process that wrote `record` is still alive (same pid and start time). */
export async function isOwnerAlive(record: ServerRecord): Promise<boolean> {
  if (!(await isRunning(record.ownerPid))) return false;
  if (record.ownerStartTime === undefined) return true;
  return (await processStartTime(record.ownerPid)) === record.ownerStartTime;
}

export async function removeServerRecord(file: string): Promise<void> {
  await rm(file, { force: true });
}
