import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { git } from './git.ts';

/** Line of `config.py` that the demo's tasks E and F both edit (and so conflict on). */
export const CONFLICT_LINE = 50;
/** Its content on `main`. */
export const FEATURES_LINE = 'ENABLED_FEATURES = ["core"]';

/** The sample repository the demo works on: where it is and the commit `main` points at. */
export interface SampleRepo {
  dir: string;
  commit: string;
}

/**
 * Creates (or reuses) the demo's sample repository at `dir`: a tiny Python project — README,
 * `config.py` (70 lines, `ENABLED_FEATURES` on line 50), `src/` — with one commit on `main`.
 * The commit has a fixed author and date, so every machine gets the same sha. A directory that
 * already holds a repository with a `main` branch is reused as it is (a person may have pushed
 * a resolution branch to it); anything else there is replaced.
 * Throws `RetryableError('demo_git')` if git fails (git missing, disk full).
 */
export async function ensureSampleRepo(dir: string): Promise<SampleRepo> {
  const existing = existsSync(path.join(dir, '.git')) ? await git(dir, ['rev-parse', '--verify', '--quiet', 'refs/heads/main']).catch(() => undefined) : undefined;
  if (existing) return { dir, commit: existing };

  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  for (const [file, text] of Object.entries(sampleFiles())) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), text);
  }
  await git(dir, ['init', '--quiet', '--initial-branch=main']);
  await git(dir, ['add', '--all']);
  await git(dir, ['-c', 'user.name=Omoi demo', '-c', 'user.email=demo@omoi.localhost', '-c', 'commit.gpgsign=false', 'commit', '--quiet', '-m', 'sample project: config, src, README'], {
    GIT_AUTHOR_DATE: '2024-01-01T00:00:00Z', GIT_COMMITTER_DATE: '2024-01-01T00:00:00Z',
  });
  return { dir, commit: await git(dir, ['rev-parse', 'HEAD']) };
}

/** The files of the sample project, by path. */
export function sampleFiles(): Record<string, string> {
  return {
    'README.md': [
      '# shop — the Omoi demo project',
      '',
      'A tiny Python service used by `omoi start --demo`. The demo ticket adds two features in',
      'parallel (`src/x`, `src/y`), integrates them, and has two tasks change the same line of',
      '`config.py` so that their merge conflicts and is resolved.',
      '',
    ].join('\n'),
    'config.py': configPy(),
    'src/__init__.py': '',
    'src/core.py': [
      '"""Core of the shop service."""',
      'import config',
      '',
      '',
      'def features():',
      '    """The features switched on in config.py."""',
      '    return list(config.ENABLED_FEATURES)',
      '',
    ].join('\n'),
    '.gitignore': '__pycache__/\n',
  };
}

/** `config.py`: 70 lines of settings with `FEATURES_LINE` at line `CONFLICT_LINE`. */
function configPy(): string {
  const head = [
    '"""Settings of the shop service.',
    '',
    'Every value can be overridden by an environment variable of the same name.',
    '"""',
    'import os',
    '',
    '# --- service ---',
    'SERVICE_NAME = "shop"',
    'HOST = os.environ.get("HOST", "127.0.0.1")',
    'PORT = int(os.environ.get("PORT", "8000"))',
    'DEBUG = os.environ.get("DEBUG", "0") == "1"',
    'WORKERS = 2',
    '',
    '# --- database ---',
    'DATABASE_URL = os.environ.get("DATABASE_URL", "sqlite:///shop.db")',
    'DATABASE_POOL_SIZE = 5',
    'DATABASE_TIMEOUT_S = 10',
    '',
    '# --- cache ---',
    'CACHE_BACKEND = "memory"',
    'CACHE_TTL_S = 300',
    'CACHE_MAX_ITEMS = 10_000',
    '',
    '# --- logging ---',
    'LOG_LEVEL = os.environ.get("LOG_LEVEL", "info")',
    'LOG_FORMAT = "json"',
    '',
    '# --- http client ---',
    'HTTP_TIMEOUT_S = 5',
    'HTTP_RETRIES = 3',
    'HTTP_BACKOFF_S = 0.5',
    '',
    '# --- catalogue ---',
    'CURRENCY = "EUR"',
    'PAGE_SIZE = 20',
    'MAX_PAGE_SIZE = 100',
    '',
    '# --- orders ---',
    'ORDER_HOLD_MINUTES = 15',
    'MAX_ITEMS_PER_ORDER = 50',
    '',
    '# --- payments ---',
    'PAYMENT_PROVIDER = "sandbox"',
    'PAYMENT_TIMEOUT_S = 20',
    '',
    '# --- features ---',
    '# Features switched on at start-up; each feature lives in its own package under src/.',
    '# The demo\'s tasks E and F both edit the next line: their merge conflicts there.',
    '',
  ];
  const tail = [
    '',
    '# --- limits ---',
    'RATE_LIMIT_PER_MINUTE = 600',
    'MAX_BODY_BYTES = 1_048_576',
    '',
    '# --- email ---',
    'SMTP_HOST = "localhost"',
    'SMTP_PORT = 25',
    'MAIL_FROM = "shop@example.com"',
    '',
    '# --- housekeeping ---',
    'CLEANUP_INTERVAL_S = 3600',
    'KEEP_ORDERS_DAYS = 365',
    '',
    '# end of settings',
  ];
  const lines = [...head, ...Array.from({ length: CONFLICT_LINE - 1 - head.length }, () => ''), FEATURES_LINE, ...tail];
  if (lines[CONFLICT_LINE - 1] !== FEATURES_LINE) throw new Error(`config.py layout: line ${CONFLICT_LINE} is not the features line`);
  return lines.join('\n') + '\n';
}
