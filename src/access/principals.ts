import { ConflictError, NotFoundError, TerminalError } from '../errors.ts';
import { isSafeId, MAX_ID_LENGTH } from '../ids.ts';
import { PrincipalEntity, type Database, type PrincipalRow } from '../persistence/index.ts';
import { isRole, ROLES, type Role } from './roles.ts';
import { newToken, tokenHash } from './tokens.ts';

/** Who a request acts as. */
export interface Principal { name: string; role: Role }

/** A principal as listed: never its token or hash. */
export interface PrincipalInfo { name: string; role: Role; created_at: string; created_by: string; revoked_at: string | null }

/** The built-in principal whose token is the node's `OMOI_API_TOKEN` (or generated api-token file). */
export const BOOTSTRAP_ADMIN = 'admin';

/** What the HTTP layer needs to know about principals; `Principals` implements it over PostgreSQL. */
export interface PrincipalStore {
  /** Makes `token` the bootstrap `admin` principal's (replacing its previous token). */
  ensureBootstrapAdmin(token: string): Promise<void>;
  /** The live principal holding `token`, or undefined (unknown or revoked). */
  authenticate(token: string): Promise<Principal | undefined>;
  /** Creates a principal with a new token, returned here only. Throws 400 `invalid_name`/`invalid_role`, 409 `principal_exists`. */
  create(name: unknown, role: unknown, createdBy: string): Promise<{ principal: PrincipalInfo; token: string }>;
  /** Every principal, revoked ones included, oldest first. */
  list(): Promise<PrincipalInfo[]>;
  /** Revokes `name` (again is a no-op). Throws 404 `not_found`, 409 `builtin_principal` for the bootstrap admin. */
  revoke(name: string): Promise<PrincipalInfo>;
}

/**
 * Principals in `omoi_principal`, looked up by the sha256 of the presented token (so no
 * constant-time compare is needed). Answers are cached for `cacheMs` (default 1 s) per hash:
 * a revocation on another node takes effect within that; on this node at once.
 */
export class Principals implements PrincipalStore {
  private readonly cache = new Map<string, { principal: Principal | undefined; until: number }>();
  private readonly cacheMs: number;
  private readonly now: () => number;
  private bootstrapHash?: string;

  constructor(private readonly db: Database, opts: { cacheMs?: number; now?: () => number } = {}) {
    this.cacheMs = opts.cacheMs ?? 1_000;
    this.now = opts.now ?? Date.now;
  }

  /**
   * Makes `token` the bootstrap admin's: inserts the `admin` principal, or replaces its hash
   * (and lifts a revocation), so that a changed `OMOI_API_TOKEN` replaces the old one. This
   * node also keeps the hash itself: nodes that each generated their own api-token file keep
   * accepting their own, whichever of them wrote the row last.
   */
  async ensureBootstrapAdmin(token: string): Promise<void> {
    this.bootstrapHash = tokenHash(token);
    await this.db.em().getConnection().execute(
      `insert into omoi_principal (name, role, token_hash, created_at, revoked_at, created_by) values (?, 'admin', ?, now(), null, 'bootstrap')
       on conflict (name) do update set role = 'admin', token_hash = excluded.token_hash, revoked_at = null`,
      [BOOTSTRAP_ADMIN, tokenHash(token)],
    );
    this.cache.clear();
  }

  async authenticate(token: string): Promise<Principal | undefined> {
    const hash = tokenHash(token);
    if (hash === this.bootstrapHash) return { name: BOOTSTRAP_ADMIN, role: 'admin' };
    const now = this.now();
    const cached = this.cache.get(hash);
    if (cached && cached.until > now) return cached.principal;
    const row = await this.db.em().findOne(PrincipalEntity, { token_hash: hash, revoked_at: null });
    const principal = row && isRole(row.role) ? { name: row.name, role: row.role } : undefined;
    // Unknown tokens are cached too (guessing is rate-limited); the map cannot grow without bound.
    if (this.cache.size >= 10_000) this.cache.clear();
    this.cache.set(hash, { principal, until: now + this.cacheMs });
    return principal;
  }

  async create(name: unknown, role: unknown, createdBy: string): Promise<{ principal: PrincipalInfo; token: string }> {
    if (!isSafeId(name)) {
      throw new TerminalError('invalid_name', `name must be 1-${MAX_ID_LENGTH} letters, digits, "_", "-" or single dots, starting with a letter or digit`, { field: '/name' });
    }
    if (!isRole(role)) throw new TerminalError('invalid_role', `role must be one of ${ROLES.join(', ')}`, { field: '/role' });
    const token = newToken();
    const em = this.db.em();
    const inserted: PrincipalRow[] = await em.getConnection().execute(
      `insert into omoi_principal (name, role, token_hash, created_at, revoked_at, created_by) values (?, ?, ?, now(), null, ?)
       on conflict (name) do nothing returning *`,
      [name, role, tokenHash(token), createdBy],
    );
    if (inserted.length === 0) throw new ConflictError('principal_exists', `a principal named ${JSON.stringify(name)} exists (names of revoked ones are not reused)`, { field: '/name' });
    return { principal: info(inserted[0]!), token };
  }

  async list(): Promise<PrincipalInfo[]> {
    const rows = await this.db.em().find(PrincipalEntity, {}, { orderBy: { id: 'asc' } });
    return rows.map(info);
  }

  async revoke(name: string): Promise<PrincipalInfo> {
    if (name === BOOTSTRAP_ADMIN) {
      throw new ConflictError('builtin_principal', `${BOOTSTRAP_ADMIN} is the node's bootstrap token: change OMOI_API_TOKEN (or the api-token file) and restart the nodes to replace it`, { field: 'params.name' });
    }
    const rows: PrincipalRow[] = await this.db.em().getConnection().execute(
      `update omoi_principal set revoked_at = coalesce(revoked_at, now()) where name = ? returning *`, [name],
    );
    if (rows.length === 0) throw new NotFoundError('principal', name);
    this.cache.clear();
    return info(rows[0]!);
  }
}

function info(row: PrincipalRow): PrincipalInfo {
  return {
    name: row.name, role: row.role as Role, created_by: row.created_by,
    created_at: new Date(row.created_at).toISOString(),
    revoked_at: row.revoked_at ? new Date(row.revoked_at).toISOString() : null,
  };
}
