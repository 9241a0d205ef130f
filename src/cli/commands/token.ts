import type { PrincipalInfo, Role } from '../../access/index.ts';
import { nodeApi } from '../node-api.ts';
import { textTable } from '../text-table.ts';

export interface TokenOptions { url?: string; json?: boolean }

/** `omoi token create <name> --role <role>`: the new token, printed once (only its hash is kept). */
export async function tokenCreate(name: string, role: Role, opts: TokenOptions): Promise<string> {
  const created = await nodeApi(opts.url).call<{ name: string; role: Role; token: string }>('POST', '/api/tokens', { name, role });
  if (opts.json) return JSON.stringify(created, null, 2);
  return `${created.token}\n(the token of ${created.name}, role ${created.role}: store it now, it is not shown again)`;
}

/** `omoi token list`: every principal, revoked ones included; never a token or hash. */
export async function tokenList(opts: TokenOptions): Promise<string> {
  const { tokens } = await nodeApi(opts.url).call<{ tokens: PrincipalInfo[] }>('GET', '/api/tokens');
  if (opts.json) return JSON.stringify(tokens, null, 2);
  return textTable(['NAME', 'ROLE', 'CREATED', 'BY', 'REVOKED'], tokens.map((p) => [p.name, p.role, p.created_at, p.created_by, p.revoked_at ?? '-']));
}

/** `omoi token revoke <name>`: the node refuses the token from now on (other nodes within a second). */
export async function tokenRevoke(name: string, opts: TokenOptions): Promise<string> {
  const revoked = await nodeApi(opts.url).call<{ name: string; revoked_at: string }>('DELETE', `/api/tokens/${encodeURIComponent(name)}`);
  return `revoked ${revoked.name} (at ${revoked.revoked_at})`;
}
