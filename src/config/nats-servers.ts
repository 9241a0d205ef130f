/**
 * The servers named by a `NATS_URL`: one URL, or a comma-separated list of the servers of one
 * NATS cluster, so the node can connect (and reconnect) to any of them.
 */
export function natsServers(natsUrl: string): string[] {
  return natsUrl.split(',').map((s) => s.trim()).filter(Boolean);
}
