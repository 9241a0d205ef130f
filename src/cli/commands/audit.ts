import { nodeApi } from '../node-api.ts';
import { textTable } from '../text-table.ts';

interface AuditLine { id: number; at: string; principal: string; role: string | null; channel: string; command: string; target: string | null; outcome: string; message_id: string | null }

export interface AuditOptions { url?: string; limit?: number; principal?: string; command?: string; json?: boolean }

/** `omoi audit`: the newest audit rows (admin token), as a table or JSON. */
export async function runAudit(opts: AuditOptions): Promise<string> {
  const query = new URLSearchParams({ limit: String(opts.limit ?? 50) });
  if (opts.principal) query.set('principal', opts.principal);
  if (opts.command) query.set('command', opts.command);
  const { audit } = await nodeApi(opts.url).call<{ audit: AuditLine[] }>('GET', `/api/audit?${query}`);
  if (opts.json) return JSON.stringify(audit, null, 2);
  if (audit.length === 0) return 'no audit rows';
  return textTable(
    ['AT', 'PRINCIPAL', 'ROLE', 'CHANNEL', 'COMMAND', 'TARGET', 'OUTCOME', 'MESSAGE'],
    audit.map((a) => [a.at, a.principal, a.role ?? '-', a.channel, a.command, a.target ?? '-', a.outcome, a.message_id ?? '-']),
  );
}
