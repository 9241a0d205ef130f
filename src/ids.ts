/**
 * Ticket, task, join and agent ids become git branch names (`omoi-task/<ticket>/<task>`), path
 * segments, NATS subject tokens and parts of derived message ids, so they are restricted at the
 * edge to what is safe in all four: a letter or digit first; then letters, digits, `_`, `-`,
 * and `.` when a letter, digit, `_` or `-` follows it (no `..`, no trailing `.`); never ending
 * in `.lock`; at most `MAX_ID_LENGTH` characters. No `:`, `/`, spaces or control characters.
 * At that length the longest derived message id (`merge-finished:<ticket>:join-<task>:<n>`)
 * stays well within the envelope's 200 characters.
 */
export const SAFE_ID_PATTERN = /^(?!.*\.lock$)[A-Za-z0-9](?:[A-Za-z0-9_-]|\.(?=[A-Za-z0-9_-]))*$/;
export const MAX_ID_LENGTH = 64;

/** Whether `id` is a safe id (see `SAFE_ID_PATTERN`). */
export function isSafeId(id: unknown): id is string {
  return typeof id === 'string' && id.length <= MAX_ID_LENGTH && SAFE_ID_PATTERN.test(id);
}
