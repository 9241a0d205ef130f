import { fileURLToPath } from 'node:url';
import { CONFLICT_LINE, FEATURES_LINE } from './sample-repo.ts';

/** The resolver script shipped beside this file (plain Node; see its header for the policy). */
export const RESOLVER_SCRIPT = fileURLToPath(new URL('./resolve-features.mjs', import.meta.url));

/** `node resolve-features.mjs`, with this Node's absolute path (the resolver sees only PATH, HOME, LANG, TERM). */
export function defaultResolverCommand(): string {
  return `${shellQuote(process.execPath)} ${shellQuote(RESOLVER_SCRIPT)}`;
}

/** A task of the demo ticket, as a client submits it. */
export interface DemoTask {
  id: string;
  title: string;
  depends_on: string[];
  owns: string[];
  kind: 'command';
  run: string;
}

/** The `ticket.create` payload of the demo. */
export interface DemoTicket {
  ticket_id: string;
  title: string;
  repository: string;
  base_branch: string;
  ownership: 'lenient';
  /** Absent with `--demo-conflict`: the conflict is left to a person. */
  resolver_command?: string;
  tasks: DemoTask[];
}

/** A fresh, readable, sortable ticket id: `demo-YYYYMMDD-HHMMSS-mmm` (UTC). */
export function demoTicketId(now = new Date()): string {
  const iso = now.toISOString(); // 2024-01-01T12:34:56.789Z
  return `demo-${iso.slice(0, 10).replaceAll('-', '')}-${iso.slice(11, 19).replaceAll(':', '')}-${iso.slice(20, 23)}`;
}

/** Single-quotes a word for sh. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Writes `lines` to `file` (creating its folder) in a shell command; lines must not contain `'`. */
function write(file: string, lines: string[]): string {
  const dir = file.includes('/') ? `mkdir -p ${file.slice(0, file.lastIndexOf('/'))} && ` : '';
  return `${dir}printf '%s\\n' ${lines.map(shellQuote).join(' ')} > ${file}`;
}

/** The task's JSON result, written where Omoi reads it. */
function result(json: Record<string, unknown>): string {
  return `printf '%s\\n' ${shellQuote(JSON.stringify(json))} > "$OMOI_RESULT_FILE"`;
}

/** Sets line `CONFLICT_LINE` of config.py to `line`, after checking it still says what main says. */
function editFeatures(line: string): string {
  const guard = `if [ "$(sed -n ${CONFLICT_LINE}p config.py)" != ${shellQuote(FEATURES_LINE)} ]; then echo ${shellQuote(`config.py line ${CONFLICT_LINE} is not ${FEATURES_LINE} as in the sample project; not editing it`)} >&2; exit 1; fi`;
  return `${guard} && sed -i ${shellQuote(`${CONFLICT_LINE}s/.*/${line}/`)} config.py`;
}

/**
 * The demo ticket on the sample repository:
 *
 *   A (setup) ─┬─ B (feature X, owns src/x/**) ──────────┐
 *              ├─ C (feature Y, owns src/y/**) ──────────┼─ D (integrate: join of B, C, H)
 *              ├─ H (tests of X, owns src/x/** too) ─────┘   H waits for B's claim
 *              ├─ E (switch on export; edits config.py:50) ─┐
 *              └─ F (switch on search; edits config.py:50) ─┴─ G (check config: join of E, F)
 *
 * The ticket is `lenient`: E and F own only their notes, so they run in parallel and both
 * change line 50 of config.py (a warning each, not a failure); their merge in join-G conflicts
 * and `resolver_command` (resolve-features.mjs) keeps both features. D and G check that they
 * run on merged code and on the synthesized results of their sources. D and G are both sinks:
 * the ticket's final head merges them. Every task is a shell command (`kind: command`).
 */
export function demoTicket(ticketId: string, repository: string, resolverCommand: string | null = defaultResolverCommand()): DemoTicket {
  const task = (id: string, title: string, depends_on: string[], owns: string[], run: string[]): DemoTask =>
    ({ id, title, depends_on, owns, kind: 'command', run: run.join(' && ') });
  return {
    ticket_id: ticketId,
    title: 'Demo: features X and Y in parallel, integrated; a config conflict resolved',
    repository,
    base_branch: 'main',
    ownership: 'lenient',
    ...(resolverCommand === null ? {} : { resolver_command: resolverCommand }),
    tasks: [
      task('A', 'setup: project metadata and requirements', [], ['pyproject.toml', 'requirements.txt'], [
        write('pyproject.toml', ['[project]', 'name = "shop"', 'version = "0.1.0"', 'requires-python = ">=3.9"']),
        write('requirements.txt', ['# no third-party packages yet']),
        result({ step: 'setup', files: ['pyproject.toml', 'requirements.txt'] }),
      ]),
      task('B', 'feature X: export orders as CSV', ['A'], ['src/x/**'], [
        'test -f pyproject.toml', // runs on A's head
        write('src/x/__init__.py', ['"""Feature X: export."""']),
        write('src/x/export.py', ['import csv', 'import io', '', '', 'def export_orders(orders):', '    out = io.StringIO()', '    csv.writer(out).writerows(orders)', '    return out.getvalue()']),
        result({ feature: 'x', module: 'src/x/export.py' }),
      ]),
      task('C', 'feature Y: search the catalogue', ['A'], ['src/y/**'], [
        write('src/y/__init__.py', ['"""Feature Y: search."""']),
        write('src/y/search.py', ['def search(items, text):', '    return [i for i in items if text.lower() in i.lower()]']),
        result({ feature: 'y', module: 'src/y/search.py' }),
      ]),
      task('H', 'tests of feature X; claims src/x/** like B, so waits for B', ['A'], ['src/x/**'], [
        write('src/x/test_export.py', ['from src.x.export import export_orders', '', '', 'def test_export():', '    assert export_orders([["a", 1]]) == "a,1\\r\\n"']),
        result({ tests: 'x', module: 'src/x/test_export.py' }),
      ]),
      task('D', 'integrate X and Y', ['B', 'C', 'H'], ['src/app.py'], [
        // Runs on the join's merge commit: every source's files are here...
        'test -f src/x/export.py && test -f src/y/search.py && test -f src/x/test_export.py',
        // ...and its task file carries the synthesized results of B, C and H.
        `grep -q '"feature": "x"' "$OMOI_TASK_FILE" && grep -q '"feature": "y"' "$OMOI_TASK_FILE"`,
        write('src/app.py', ['from src.x.export import export_orders', 'from src.y.search import search', '', 'FEATURES = {"export": export_orders, "search": search}']),
        result({ integrated: ['x', 'y'], module: 'src/app.py' }),
      ]),
      task('E', 'switch on export in config.py', ['A'], ['notes/export.md'], [
        editFeatures('ENABLED_FEATURES = ["core", "export"]'),
        write('notes/export.md', ['Export is switched on in config.py.']),
        result({ config: { export: true } }),
      ]),
      task('F', 'switch on search in config.py', ['A'], ['notes/search.md'], [
        editFeatures('ENABLED_FEATURES = ["core", "search"]'),
        write('notes/search.md', ['Search is switched on in config.py.']),
        result({ config: { search: true } }),
      ]),
      task('G', 'check the merged config', ['E', 'F'], ['notes/config-check.md'], [
        // The resolver kept both sides of the line-50 conflict; no marker is left.
        `grep -qxF ${shellQuote('ENABLED_FEATURES = ["core", "export", "search"]')} config.py`,
        '! grep -q "^<<<<<<<" config.py',
        write('notes/config-check.md', ['config.py switches on export and search.']),
        result({ checked: 'config.py', features: ['core', 'export', 'search'] }),
      ]),
    ],
  };
}
