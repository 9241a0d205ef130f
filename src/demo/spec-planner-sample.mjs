// The spec demo's plan (`npm start -- --spec-demo`) for the demo's sample repository
// (src/demo/sample-repo.ts), used by spec-planner.mjs when the repository it reads is that one.
// Deterministic and offline: the artifacts depend only on the goal and the files read.
// The DAG is shaped like the demo ticket's but conflict-free (strict ownership, disjoint files),
// so it runs unattended:
//
//   A (project metadata) ─┬─ B (export, src/x/**) ─┬─ D (integrate: join of B and C) ── E (document)
//                         └─ C (search, src/y/**) ─┘
import { existsSync, readFileSync } from 'node:fs';

/** Single-quotes a word for sh. */
const q = (s) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Writes `lines` to `file` in a shell command (creating its folder). */
const write = (file, lines) => `${file.includes('/') ? `mkdir -p ${q(file.slice(0, file.lastIndexOf('/')))} && ` : ''}printf '%s\\n' ${lines.map(q).join(' ')} > ${q(file)}`;

/** Whether the repository in the working directory is the demo's sample repository (read, never changed). */
export function isSampleRepo() {
  return existsSync('config.py') && existsSync('src/core.py');
}

/** The artifact of `phase` for the sample repository; `found` is its file list (sorted). */
export function sampleArtifact(phase, goal, found) {
  switch (phase) {
    case 'EXPLORE': {
      const features = /^ENABLED_FEATURES = .*$/m.exec(readFileSync('config.py', 'utf8'))?.[0] ?? 'no ENABLED_FEATURES line';
      const missing = ['pyproject.toml', 'src/x', 'src/y', 'src/app.py', 'docs'].filter((f) => !existsSync(f));
      return {
        summary: `A small Python service (${found.length} files: ${found.join(', ')}); config.py says ${features}. The goal: ${goal}`,
        files: found,
        findings: [
          `top-level entries: ${[...new Set(found.map((f) => f.split('/')[0]))].join(', ')}`,
          `config.py: ${features}`,
          `src/core.py reads config.ENABLED_FEATURES; not there yet: ${missing.join(', ') || 'nothing'}`,
        ],
      };
    }
    case 'REQUIREMENTS':
      return {
        requirements: [
          { id: 'REQ-1', title: 'project metadata', acceptance: ['WHEN the project is packaged THE SYSTEM SHALL describe it in pyproject.toml'] },
          { id: 'REQ-2', title: 'export orders', acceptance: ['WHEN orders are exported THE SYSTEM SHALL write them as CSV (src/x/export.py)'] },
          { id: 'REQ-3', title: 'search the catalogue', acceptance: ['WHEN a text is searched THE SYSTEM SHALL return the items containing it, ignoring case (src/y/search.py)'] },
          { id: 'REQ-4', title: 'one entry point', acceptance: ['WHEN the service starts THE SYSTEM SHALL offer export and search from src/app.py'] },
          { id: 'REQ-5', title: 'documented', acceptance: ['WHEN a person reads docs/features.md THE SYSTEM SHALL list every feature and its module'] },
        ],
      };
    case 'DESIGN':
      return {
        summary: 'Metadata first; export and search built in parallel in their own packages; one module integrates them; a page documents them.',
        components: [
          { name: 'metadata', description: 'pyproject.toml names the project.', files: ['pyproject.toml'] },
          { name: 'export', description: 'src/x/export.py: export_orders(orders) returns CSV text.', files: ['src/x/__init__.py', 'src/x/export.py'] },
          { name: 'search', description: 'src/y/search.py: search(items, text), case-insensitive.', files: ['src/y/__init__.py', 'src/y/search.py'] },
          { name: 'app', description: 'src/app.py maps feature names to export and search.', files: ['src/app.py'] },
          { name: 'docs', description: 'docs/features.md lists the features.', files: ['docs/features.md'] },
        ],
        decisions: ['export and search own separate folders, so they run in parallel and merge without conflicts', 'config.py is not changed'],
      };
    case 'TASKS': {
      const task = (id, title, depends_on, owns, run, check, requirements) =>
        ({ id, title, depends_on, owns, kind: 'command', run: run.join(' && '), check, requirements });
      return {
        ownership: 'strict',
        tasks: [
          task('A', 'project metadata', [], ['pyproject.toml'],
            [write('pyproject.toml', ['[project]', 'name = "shop"', 'version = "0.1.0"', 'requires-python = ">=3.9"'])],
            'test -f pyproject.toml', ['REQ-1']),
          task('B', 'export orders as CSV', ['A'], ['src/x/**'], [
            'test -f pyproject.toml', // runs on A's head
            write('src/x/__init__.py', ['"""Export."""']),
            write('src/x/export.py', ['import csv', 'import io', '', '', 'def export_orders(orders):', '    out = io.StringIO()', '    csv.writer(out).writerows(orders)', '    return out.getvalue()']),
          ], 'test -f src/x/export.py', ['REQ-2']),
          task('C', 'search the catalogue', ['A'], ['src/y/**'], [
            write('src/y/__init__.py', ['"""Search."""']),
            write('src/y/search.py', ['def search(items, text):', '    return [i for i in items if text.lower() in i.lower()]']),
          ], 'test -f src/y/search.py', ['REQ-3']),
          task('D', 'integrate export and search', ['B', 'C'], ['src/app.py'], [
            'test -f src/x/export.py && test -f src/y/search.py', // runs on the merge of B and C
            write('src/app.py', ['from src.x.export import export_orders', 'from src.y.search import search', '', 'FEATURES = {"export": export_orders, "search": search}']),
          ], 'grep -q FEATURES src/app.py', ['REQ-4']),
          task('E', 'document the features', ['D'], ['docs/**'], [
            'test -f src/app.py',
            write('docs/features.md', ['# Features', '', '- export: src/x/export.py', '- search: src/y/search.py', '', `Goal: ${goal}`]),
          ], 'test -f docs/features.md', ['REQ-5']),
        ],
      };
    }
    default:
      return undefined;
  }
}
