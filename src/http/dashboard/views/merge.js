// One merge attempt of a join: the order the sources went in and how each fared, the files left
// unresolved with their conflict hunks, the resolver's command, exit code and output; and, while the
// join is blocked, "Use commit…": resume it on a commit a person made (POST …/joins/:join/resolve).
import { Unauthorized, api, guarded, post } from '../lib/api.js';
import { runAction } from '../lib/actions.js';
import { badge, el, shortSha, time, viewLink } from '../lib/dom.js';
import { registerView } from '../lib/router.js';

registerView({ pattern: '#/tickets/:ticket/joins/:join/merges/:attempt', title: 'Merge attempt', nav: false, mount: mountMerge });

function mountMerge(root, { ticket, join, attempt }) {
  root.classList.add('page');
  const path = `/api/tickets/${encodeURIComponent(ticket)}/joins/${encodeURIComponent(join)}/merges/${encodeURIComponent(attempt)}`;
  const status = el('p', { id: 'merge-status', role: 'status' }, 'Loading…');
  const heading = el('h2', { id: 'merge-title' }, `Merge of ${join}, attempt ${attempt}`);
  const summary = el('dl', { id: 'merge-summary', class: 'kv' });
  const resolve = el('section', { id: 'merge-resolve', class: 'merge-resolve', hidden: true });
  const order = el('tbody', { id: 'merge-order' });
  const files = el('div', { id: 'merge-files' });
  const resolver = el('dl', { id: 'merge-resolver', class: 'kv' });
  const output = el('pre', { id: 'merge-resolver-output', tabindex: '0', 'aria-label': 'resolver output' });
  const answer = el('p', { id: 'merge-answer', role: 'status' });
  root.append(
    el('p', {}, viewLink(`← ticket ${ticket}`, 'tickets', ticket)),
    heading, status, summary, resolve, answer,
    el('section', { 'aria-labelledby': 'merge-order-h' }, el('h3', { id: 'merge-order-h' }, 'Order'),
      el('div', { class: 'table-wrap' }, el('table', {},
        el('thead', {}, el('tr', {}, ...['#', 'source', 'commit', 'outcome', 'conflicted files'].map((h) => el('th', { scope: 'col' }, h)))),
        order))),
    el('section', { 'aria-labelledby': 'merge-files-h' }, el('h3', { id: 'merge-files-h' }, 'Unresolved files'), files),
    el('section', { 'aria-labelledby': 'merge-resolver-h' }, el('h3', { id: 'merge-resolver-h' }, 'Resolver'), resolver, output),
  );

  const load = async () => {
    let m;
    try {
      m = await api(path);
    } catch (err) {
      if (err instanceof Unauthorized) throw err;
      status.textContent = `Merge attempt ${attempt} of ${join}: ${err.message}`;
      status.className = 'error';
      status.setAttribute('role', 'alert');
      return;
    }
    status.textContent = '';
    status.className = '';
    render(m);
  };

  const render = (m) => {
    heading.replaceChildren(`Merge of ${join}, attempt ${attempt} `, el('span', { class: `badge ${m.ok ? 'status-completed' : 'status-blocked'}` }, m.ok ? 'merged' : 'conflict'));
    const rows = [
      ['ticket', viewLink(ticket, 'tickets', ticket)],
      ['join', el('span', {}, `${join} → continuation `, viewLink(m.join.continuation, 'tickets', ticket, 'tasks', m.join.continuation))],
      ['join status', badge(m.join.status)],
      ['reason', m.join.reason], ['commit', m.commit ? el('span', { class: 'sha', title: m.commit }, shortSha(m.commit)) : ''],
      ['merge commit now', m.join.merge_commit ? el('span', { class: 'sha', title: m.join.merge_commit }, shortSha(m.join.merge_commit)) : ''],
      ['when', `${time(m.created_at)} · ${m.duration_ms} ms`],
    ].filter(([, v]) => v);
    summary.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));

    order.replaceChildren(...m.sources.map((s) => el('tr', { class: `outcome-${s.outcome}`, dataset: { source: s.id } },
      el('td', {}, s.position == null ? '–' : String(s.position)),
      el('td', {}, viewLink(s.id, 'tickets', ticket, 'tasks', s.id)),
      el('td', {}, s.commit ? el('span', { class: 'sha', title: s.commit }, shortSha(s.commit)) : ''),
      el('td', {}, s.outcome.replace('_', ' ')),
      el('td', {}, s.conflicts.join(', ')),
    )));

    files.replaceChildren(...(m.files.length ? m.files.map((f) => el('div', { class: 'merge-file', dataset: { file: f.path } },
      el('h4', {}, f.path),
      el('pre', { class: 'hunks', tabindex: '0', 'aria-label': `conflict hunks of ${f.path}` }, f.hunks || '(no hunks were recorded for this file)'),
    )) : [el('p', { class: 'muted' }, m.ok ? 'None: every source merged.' : 'None recorded.')]));

    const r = m.resolver;
    resolver.replaceChildren(...[
      ['command', r.command || 'none configured'], ['check command', r.check_command || 'none'],
      ['exit code', r.exit_code == null ? 'did not run (or was stopped)' : String(r.exit_code)],
    ].flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
    output.textContent = r.output || '(no output)';

    resolve.hidden = m.join.status !== 'blocked';
    resolve.replaceChildren(
      el('p', {}, `The join is blocked: ${m.join.reason || 'no reason recorded'}. Resolve the conflict yourself, push the commit to the ticket's repository, and give its sha here; the continuation then runs on it.`),
      el('button', { type: 'button', id: 'merge-use-commit', onclick: () => useCommit() }, 'Use commit…'),
    );
  };

  const useCommit = () => runAction({
    question: `Resume join ${join} of ticket ${ticket} on a commit of your own?`,
    ask: 'The commit (full sha, in the ticket\'s repository):',
    what: `resolution of ${join}`,
    answerEl: answer,
    run: (commit) => post(`/api/tickets/${encodeURIComponent(ticket)}/joins/${encodeURIComponent(join)}/resolve`, { commit: commit.trim() }),
    after: load,
  });

  guarded(load);
  return {
    onEvents(events) {
      if (events.some((e) => e.ticket_id === ticket)) guarded(load);
    },
  };
}
