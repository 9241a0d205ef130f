import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { checkGitVersion, MIN_GIT_VERSION, parseGitVersion } from '../../src/git/index.ts';
import { tempDir } from './fixture.ts';

t.test('git versions are read from `git --version`; this machine\'s git is new enough', async (t) => {
  t.same(parseGitVersion('git version 2.39.5'), [2, 39]);
  t.same(parseGitVersion('git version 2.28.0.windows.1'), [2, 28]);
  t.equal(parseGitVersion('command not found'), null);
  t.same(MIN_GIT_VERSION, [2, 29]);
  t.match(await checkGitVersion(), /^git version 2\./);
});

t.test('a git older than 2.29, or none, stops the node with what to install', async (t) => {
  const old = process.env.PATH;
  t.teardown(() => { process.env.PATH = old; });
  process.env.PATH = '/nonexistent';
  await t.rejects(checkGitVersion(), { code: 'git_unavailable', message: /git is required \(2\.29 or newer\)/ });
  const bin = tempDir(t, 'omoi-old-git-');
  writeFileSync(path.join(bin, 'git'), '#!/bin/sh\necho "git version 2.20.1"\n', { mode: 0o755 });
  process.env.PATH = bin;
  await t.rejects(checkGitVersion(), { code: 'git_unavailable', message: /git 2\.29 or newer is required, found git version 2\.20\.1/ });
});
