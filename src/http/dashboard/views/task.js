// One task: its fields, its attempts, and its output — the tail, then what the command prints as
// it prints it (GET …/log/stream read with fetch(), the token in the Authorization header, never
// in a URL). The log follows the bottom unless the reader scrolled up.
import { Unauthorized, api, getToken, guarded, refused } from '../lib/api.js';
import { age, badge, el, shortSha, time, viewLink } from '../lib/dom.js';
import { readEventStream } from '../lib/live.js';
import { registerView } from '../lib/router.js';

/** Lines kept on the page: older ones are dropped (and it says so). */
const MAX_LOG_LINES = 5000;
/** Why a log stream ended, for people. */
const END_REASONS = {
  done: 'the command ended', attempt_over: 'the attempt is over', not_started: 'not started',
  unavailable: 'this node cannot follow output now (reload to try again)',
};
/** How near the bottom (px) still counts as "at the bottom": the log keeps following. */
const BOTTOM_SLACK_PX = 8;

registerView({ pattern: '#/tickets/:ticket/tasks/:task', title: 'Task', nav: false, mount: mountTask });

function mountTask(root, { ticket, task }) {
  root.classList.add('page');
  const path = `/api/tickets/${encodeURIComponent(ticket)}/tasks/${encodeURIComponent(task)}`;
  const status = el('p', { id: 'task-status', role: 'status' }, 'Loading…');
  const heading = el('h2', { id: 'task-title' }, `Task ${task}`);
  const fields = el('dl', { id: 'task-fields', class: 'kv' });
  const attempts = el('tbody', { id: 'task-attempts' });
  const logNote = el('p', { id: 'task-log-note', class: 'muted', role: 'status' });
  const log = el('pre', { id: 'task-log', class: 'task-log', tabindex: '0', 'aria-label': `output of task ${task}` });
  root.append(
    el('p', {}, viewLink(`← ticket ${ticket}`, 'tickets', ticket)),
    heading, status,
    el('section', { 'aria-labelledby': 'task-fields-h' }, el('h3', { id: 'task-fields-h' }, 'Fields'), fields),
    el('section', { 'aria-labelledby': 'task-attempts-h' }, el('h3', { id: 'task-attempts-h' }, 'Attempts'),
      el('div', { class: 'table-wrap' }, el('table', { class: 'task-attempts' },
        el('thead', {}, el('tr', {}, ...['#', 'state', 'agent', 'assigned', 'started', 'ended', 'outcome', 'check', 'usage', 'reason'].map((h) => el('th', { scope: 'col' }, h)))),
        attempts))),
    el('section', { 'aria-labelledby': 'task-log-h' }, el('h3', { id: 'task-log-h' }, 'Output'), logNote, log),
  );

  let shown = null; // the task as last read
  let stream = null; // { attempt, controller }
  let gone = false;

  const load = async () => {
    let detail;
    try {
      detail = await api(path);
    } catch (err) {
      if (err instanceof Unauthorized) throw err;
      status.textContent = `Task ${task} of ${ticket}: ${err.message}`;
      status.className = 'error';
      status.setAttribute('role', 'alert');
      return;
    }
    status.textContent = '';
    status.className = '';
    shown = detail.task;
    render(detail);
    // A new attempt (or the first one) gets its own stream; an ended one keeps what it showed.
    if (!stream || stream.attempt !== shown.attempt) follow(shown.attempt);
  };

  const render = ({ task: t, attempts: list }) => {
    heading.replaceChildren(`Task ${t.id} `, badge(t.status));
    const usage = list.reduce((sum, a) => {
      const u = a.usage || {};
      return { wall_ms: sum.wall_ms + (u.wall_ms || 0), cost_usd: sum.cost_usd + (u.cost_usd || 0) };
    }, { wall_ms: 0, cost_usd: 0 });
    const rows = [
      ['ticket', viewLink(ticket, 'tickets', ticket)],
      ['status', t.status], ['attempt', String(t.attempt)],
      ['branch', `omoi-task/${t.ticket_id}/${t.id}`],
      ['base', shortSha(t.base_commit)], ['commit', t.commit ? el('span', { class: 'sha', title: t.commit }, shortSha(t.commit)) : ''],
      ['agent', t.agent_id], ['depends on', (t.depends_on || []).join(', ')],
      ['owns', (t.owns || []).join(', ')],
      ['check', t.spec && t.spec.check ? el('code', { id: 'task-check' }, t.spec.check) : ''],
      ['acceptance', t.spec && t.spec.acceptance ? t.spec.acceptance.join(', ') : ''],
      ['claims', t.claims ? `${t.claims.status}: ${t.claims.globs.join(', ')}` : 'none held'],
      ['reason', t.reason], ['cancelled by', t.cancelled_by],
      ['usage', list.some((a) => a.usage) ? `${Math.round(usage.wall_ms / 1000)}s · $${usage.cost_usd.toFixed(2)}` : ''],
      ['result', t.result == null ? '' : el('pre', { class: 'result' }, JSON.stringify(t.result, null, 2))],
    ].filter(([, v]) => v !== null && v !== undefined && v !== '');
    fields.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
    attempts.replaceChildren(...(list.length ? list.map((a) => el('tr', { dataset: { attempt: a.attempt } },
      el('td', {}, String(a.attempt)), el('td', {}, a.status ? badge(a.status) : ''), el('td', {}, a.agent_id || ''),
      el('td', {}, a.assigned_at ? time(a.assigned_at) : ''), el('td', {}, a.started_at ? time(a.started_at) : ''),
      el('td', { title: a.ended_at || '' }, a.ended_at ? `${time(a.ended_at)} (${age(a.ended_at)} ago)` : ''),
      el('td', {}, a.outcome || ''), el('td', { class: 'check' }, a.check ? checkCell(a.check) : ''), el('td', {}, a.usage ? usageText(a.usage) : ''), el('td', { class: 'reason' }, a.reason || ''),
    )) : [el('tr', {}, el('td', { colspan: '10', class: 'muted' }, 'No attempt yet: the task has not been assigned.'))]));
  };

  const append = (text) => {
    if (!text) return;
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - BOTTOM_SLACK_PX;
    log.append(document.createTextNode(text));
    trim();
    if (atBottom) log.scrollTop = log.scrollHeight;
  };
  const trim = () => {
    const lines = log.textContent.split('\n');
    if (lines.length <= MAX_LOG_LINES) return;
    log.textContent = `… (${lines.length - MAX_LOG_LINES} earlier lines dropped from the page)\n${lines.slice(-MAX_LOG_LINES).join('\n')}`;
  };

  const follow = async (attempt) => {
    if (stream) stream.controller.abort();
    const controller = new AbortController();
    stream = { attempt, controller };
    log.textContent = '';
    if (!attempt) {
      logNote.textContent = 'No output: the task has not started.';
      return;
    }
    logNote.textContent = `Attempt ${attempt}: connecting…`;
    try {
      const res = await fetch(`${path}/log/stream?attempt=${attempt}&tail=500`, {
        headers: { authorization: `Bearer ${getToken()}`, accept: 'text/event-stream' }, signal: controller.signal, cache: 'no-store',
      });
      if (res.status === 401) throw new Unauthorized('the API refused the token');
      if (!res.ok || !res.body) {
        const body = await res.json().catch(() => ({}));
        throw new Error(`${res.status} ${(body.error && body.error.code) || ''}: ${(body.error && body.error.message) || res.statusText}`);
      }
      await readEventStream(res.body, (m) => {
        const data = JSON.parse(m.data);
        if (m.event === 'tail') {
          logNote.textContent = data.available
            ? `Attempt ${attempt}, from node ${data.node_id}${data.truncated ? ' (earlier output not shown)' : ''}: following live.`
            : `Attempt ${attempt}: ${data.note}`;
          log.textContent = '';
          append(data.lines.length ? `${data.lines.join('\n')}\n` : '');
          log.scrollTop = log.scrollHeight;
        } else if (m.event === 'output') {
          if (data.skipped) append(`… (${data.skipped} bytes of output skipped: it came faster than the page reads)\n`);
          append(data.text);
        } else if (m.event === 'end') {
          logNote.textContent = `Attempt ${attempt}: ${END_REASONS[data.reason] || data.reason}.`;
        }
      });
    } catch (err) {
      if (controller.signal.aborted || gone) return;
      if (err instanceof Unauthorized) {
        refused();
        return;
      }
      logNote.textContent = `Attempt ${attempt}: the output could not be read (${err.message}).`;
    }
  };

  guarded(load);
  return {
    onEvents(events) {
      if (events.some((e) => e.ticket_id === ticket && e.payload && e.payload.task_id === task)) guarded(load);
    },
    unmount() {
      gone = true;
      if (stream) stream.controller.abort();
    },
  };
}

/** How the task's check ended in one attempt; a failed one's output behind a summary (it may be 4,000 characters). */
function checkCell(c) {
  if (c.passed) return badge('passed');
  const why = c.timed_out ? 'timed out' : `exit ${c.exit_code == null ? 'killed' : c.exit_code}`;
  if (!c.output) return el('span', {}, badge('failed'), ` ${why}`);
  return el('details', {}, el('summary', {}, badge('failed'), ` ${why}`), el('pre', { class: 'result' }, c.output));
}

function usageText(u) {
  const parts = [];
  if (u.wall_ms != null) parts.push(`${Math.round(u.wall_ms / 1000)}s`);
  if (u.cost_usd) parts.push(`$${Number(u.cost_usd).toFixed(2)}`);
  if (u.input_tokens || u.output_tokens) parts.push(`${u.input_tokens || 0}/${u.output_tokens || 0} tok`);
  return parts.join(' · ');
}
