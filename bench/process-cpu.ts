/**
 * CPU time of this process and every process under it (the embedded PostgreSQL and
 * nats-server, the process host, the task commands it runs), read from `/proc`, for cost per
 * task figures: a run's CPU is `cpuOfTree()` after minus before. Processes that exited during
 * the window are counted through their parent's `cutime`/`cstime` once the parent waited for
 * them (the process host and the servers reap their children), so short task commands count.
 */
import { readdirSync, readFileSync } from 'node:fs';

const HZ = 100; // USER_HZ on Linux

/** CPU seconds (user + system) by command name, this process shown as `node(main)`. */
export function cpuOfTree(root = process.pid): Record<string, number> {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const stat = readStat(Number(d));
    if (stat) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), Number(d)]);
  }
  const out: Record<string, number> = {};
  const walk = (pid: number, isRoot: boolean) => {
    const stat = readStat(pid);
    if (!stat) return;
    const name = isRoot ? 'node(main)' : stat.name;
    // Own time plus that of its children that exited and were waited for (task shells under
    // the process host, PostgreSQL backends, the node's git commands).
    out[name] = (out[name] ?? 0) + stat.own + stat.reaped;
    for (const child of children.get(pid) ?? []) walk(child, false);
  };
  walk(root, true);
  return out;
}

/** `after - before`, per name, dropping names that used nothing. */
export function cpuBetween(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, seconds] of Object.entries(after)) {
    const d = seconds - (before[name] ?? 0);
    if (d > 0.005) out[name] = d;
  }
  return out;
}

function readStat(pid: number): { ppid: number; name: string; own: number; reaped: number } | undefined {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    // Fields from `state` on: ppid is 2nd, utime/stime 12th/13th, cutime/cstime 14th/15th.
    return {
      ppid: Number(f[1]), name: st.slice(st.indexOf('(') + 1, st.lastIndexOf(')')),
      own: (Number(f[11]) + Number(f[12])) / HZ, reaped: (Number(f[13]) + Number(f[14])) / HZ,
    };
  } catch {
    return undefined; // gone
  }
}
