/** Variables of this node's own environment that a child process may inherit. Nothing else
 * (tokens, database URLs, cloud credentials) crosses over unless a caller passes it explicitly. */
export const INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'TERM'] as const;

/** The environment of a child: the allowlisted variables of this process, then `explicit`. */
export function childEnv(explicit: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of INHERITED_ENV) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...explicit };
}
