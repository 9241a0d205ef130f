import { execFile } from 'node:child_process';
import t from 'tap';
import { TASK_CLI } from '../../src/task-api/index.ts';

// The client's own answers, before any API is involved: help, usage errors (exit 2), and no
// API outside a running attempt (exit 3). Its calls to a real API are in test/flow/task-api.test.ts.

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(TASK_CLI, args, { env: { PATH: process.env.PATH ?? '', ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

t.test('--help lists the commands and exit codes', async (t) => {
  const help = await run(['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /omoi-task add/);
  t.match(help.stdout, /omoi-task split/);
  t.match(help.stdout, /omoi-task progress/);
  t.match(help.stdout, /Exit codes: 0 accepted/);
});

t.test('wrong usage is exit 2 with what is missing', async (t) => {
  t.match(await run([]), { code: 2 }, 'no command');
  t.match(await run(['frobnicate']), { code: 2, stderr: /unknown command "frobnicate"/ });
  t.match(await run(['add', '--id', 'X']), { code: 2, stderr: /add needs --id and --run/ });
  t.match(await run(['split', '--task', 'B=make b']), { code: 2, stderr: /split needs --file, or --task/ });
  t.match(await run(['split', '--task', 'nocommand', '--continuation', 'C=true']), { code: 2, stderr: /--task takes ID=CMD/ });
  t.match(await run(['progress', 'x', '--percent', '150']), { code: 2, stderr: /--percent must be a number from 0 to 100/ });
  t.match(await run(['add', '--id', 'X', '--run', 'true', '--priority', 'high']), { code: 2, stderr: /--priority must be an integer/ });
  t.match(await run(['add', '--file', '/nonexistent/task.json']), { code: 2, stderr: /cannot read JSON/ });
  t.match(await run(['add', '--bogus']), { code: 2, stderr: /Unknown option '--bogus'/ });
});

t.test('outside a running attempt there is no task API: exit 3', async (t) => {
  t.match(await run(['progress', 'hello']), { code: 3, stderr: /OMOI_TASK_SOCKET and OMOI_TASK_TOKEN are not set/ });
  t.match(await run(['progress', 'hello'], { OMOI_TASK_SOCKET: '/nonexistent/api.sock', OMOI_TASK_TOKEN: 'omoi_x' }), { code: 3, stderr: /the task API does not answer \(ENOENT\)/ });
});
