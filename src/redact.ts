/**
 * Credentials in clone URLs (`https://user:token@host/…`, `https://token@host/…`) must never
 * reach a log, an error, an event or an API answer: anyone who may read those may not clone as
 * the ticket's author. `redactUrl` keeps a user name and masks a password; a user part alone is
 * masked whole (it is often a token). scp-like sources (`git@host:path`) carry no secret.
 */
const USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)([^/@]+)@/i;

export function redactUrl(source: string): string {
  return source.replace(USERINFO, (_whole, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    return `${scheme}${colon >= 0 ? `${userinfo.slice(0, colon)}:***` : '***'}@`;
  });
}

/** `text` with every credential of `source` (as it appears in `source`, or percent-decoded) masked. */
export function redactIn(text: string, source: string): string {
  const userinfo = USERINFO.exec(source)?.[2];
  if (!userinfo) return text;
  const colon = userinfo.indexOf(':');
  const secrets = (colon >= 0 ? [userinfo.slice(colon + 1)] : [userinfo]).filter(Boolean);
  let out = text.split(source).join(redactUrl(source));
  for (const secret of secrets) {
    for (const form of new Set([secret, safeDecode(secret)])) if (form.length >= 3) out = out.split(form).join('***');
  }
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * `text` with each secret (of 8 characters or more) replaced by as many `*` as it has bytes:
 * offsets into a log stay exact for its followers. For a node's own secrets (its API token) in
 * what a command printed.
 */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 8) out = out.split(secret).join('*'.repeat(Buffer.byteLength(secret)));
  return out;
}
