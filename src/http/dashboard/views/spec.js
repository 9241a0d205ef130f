// #/specs/:spec: one spec (GET /api/specs/:id): its goal, status and reason, the phases as a
// stepper, each planning phase's runs (ticket, artifact version, gate verdict and findings) with
// the artifacts rendered for people, the work ticket, and the actions (replan, cancel, approve,
// reject). Reloaded on the spec's events and its tickets' events, so it follows the pipeline live.
import { Unauthorized, api, post, refused } from '../lib/api.js';
import { runAction } from '../lib/actions.js';
import { coalesced } from '../lib/coalesce.js';
import { age, badge, el, shortSha, viewLink } from '../lib/dom.js';
import { onReset } from '../lib/live.js';
import { registerView } from '../lib/router.js';
import { renderGraph } from './ticket-graph.js';

const PLANNING = ['EXPLORE', 'REQUIREMENTS', 'DESIGN', 'TASKS'];
const PHASES = [...PLANNING, 'SYNC', 'EXECUTE', 'COMPLETE'];
/** Statuses a spec can still be stopped in (`spec.cancel`); the others have ended. */
const CANCELLABLE = new Set(['planning', 'awaiting_approval', 'executing', 'blocked']);
const STEP_TEXT = { done: 'done', current: 'now', awaiting_approval: 'waits for approval', blocked: 'blocked', failed: 'failed', todo: '' };
/** The words of an EARS criterion that carry its structure. */
const EARS_WORDS = /(\bWHEN\b|\bWHILE\b|\bWHERE\b|\bIF\b|\bTHEN\b|THE SYSTEM SHALL)/;

registerView({ pattern: '#/specs/:spec', title: 'Spec', nav: false, mount: mountSpec });

/** Where each phase stands: done, current, awaiting_approval, blocked, failed, or todo (not reached). */
export function phaseStates(spec) {
  const at = PHASES.indexOf(spec.phase);
  const here = spec.status === 'completed' ? 'done'
    : ['awaiting_approval', 'blocked', 'failed'].includes(spec.status) ? spec.status : 'current';
  return PHASES.map((phase, i) => ({ phase, state: i < at ? 'done' : i === at ? here : 'todo' }));
}

function mountSpec(root, { spec: id }) {
  root.classList.add('page', 'spec-page');
  const enc = encodeURIComponent(id);
  const title = el('h2', { id: 'spec-title' }, `Spec ${id}`);
  const status = el('p', { id: 'spec-status', class: 'muted', role: 'status' }, 'Loading…');
  const error = el('p', { id: 'spec-error', class: 'error', role: 'alert', hidden: true });
  const answer = el('p', { id: 'spec-answer', class: 'muted', role: 'status' });
  const reason = el('div', { id: 'spec-reason', class: 'blocked-summary', role: 'alert', hidden: true });
  const meta = el('dl', { id: 'spec-meta', class: 'kv' });
  const fromPhase = el('select', { id: 'spec-replan-phase' }, ...PLANNING.map((p) => el('option', { value: p }, p)));
  const replanButton = el('button', { type: 'button', id: 'spec-replan', onclick: () => replan() }, 'Replan…');
  const cancelButton = el('button', { type: 'button', id: 'spec-cancel', onclick: () => cancel() }, 'Cancel spec');
  const approveButton = el('button', { type: 'button', id: 'spec-approve', hidden: true, onclick: () => decide('approve') }, 'Approve');
  const rejectButton = el('button', { type: 'button', id: 'spec-reject', hidden: true, onclick: () => decide('reject') }, 'Reject');
  const gateNote = el('span', { id: 'spec-gate', class: 'gate-note', hidden: true });
  const approvals = el('ul', { id: 'spec-approvals', class: 'approvals', hidden: true });
  const stepper = el('ol', { id: 'spec-stepper', class: 'stepper', 'aria-label': 'phases' });
  const phases = el('div', { id: 'spec-phases' });
  const work = el('div', { id: 'spec-work' });
  const body = el('div', { id: 'spec-body', hidden: true },
    answer, reason, meta,
    el('div', { class: 'spec-actions', role: 'group', 'aria-label': 'spec actions' },
      gateNote, approveButton, rejectButton,
      el('label', { class: 'filter' }, 'from phase ', fromPhase), replanButton, cancelButton),
    approvals,
    el('h3', {}, 'Phases'), stepper,
    phases,
    el('h3', {}, 'Work'), work);
  root.append(el('p', {}, el('a', { href: '#/specs' }, '← all specs')), title, status, error, body);

  let alive = true;
  let shown = null; // the spec as last rendered
  let renderedJson = '';
  let phaseChosen = false;
  fromPhase.addEventListener('change', () => { phaseChosen = true; });
  /** The spec's ticket ids: their events reload the page too. */
  let tickets = new Set();
  /** The TASKS graph's box, kept across renders so a live update does not lay it out again. */
  const graphBox = el('div', { id: 'spec-tasks-graph', class: 'graph-box' });
  /** Older runs' artifacts a person opened: kept open across live re-renders. */
  const openRuns = new Set();

  const load = coalesced(async () => {
    let detail;
    try {
      detail = await api(`/api/specs/${enc}`);
    } catch (err) {
      if (err instanceof Unauthorized) return refused();
      if (!alive) return;
      // Not there (yet): the page stays, and its creation (spec.created) loads it.
      status.textContent = '';
      error.textContent = `Spec ${id}: ${err.message}`;
      error.hidden = false;
      return;
    }
    if (!alive) return;
    status.textContent = '';
    error.hidden = true;
    const json = JSON.stringify(detail);
    if (json === renderedJson) return;
    renderedJson = json;
    render(detail);
  });

  function render(detail) {
    const { spec } = detail;
    shown = spec;
    tickets = new Set((detail.tickets || []).map((t) => t.id));
    title.replaceChildren(`Spec ${spec.id} `, badge(spec.status));
    body.hidden = false;
    body.dataset.status = spec.status;
    body.dataset.phase = spec.phase;

    reason.hidden = !spec.reason || !['blocked', 'failed'].includes(spec.status);
    reason.replaceChildren(el('strong', {}, `${spec.status === 'blocked' ? 'Blocked' : 'Failed'} in ${spec.phase}: `), spec.reason || '');

    const workTicket = (detail.tickets || []).find((t) => t.id === spec.ticket_id);
    const rows = [
      ['goal', el('span', { id: 'spec-goal', class: 'goal' }, spec.goal)],
      ['title', spec.title],
      ['repository', el('code', {}, spec.repository)],
      ['base branch', spec.base_branch],
      ['phase', `${spec.phase}${PLANNING.includes(spec.phase) && spec.status === 'planning' ? ` · run ${spec.attempt} of ${spec.max_phase_attempts}` : ''}`],
      ['planner', spec.planner],
      ['approvals', (spec.approvals || []).length ? `after ${spec.approvals.join(', ')}` : 'none'],
      ['work ticket', spec.ticket_id ? el('span', { id: 'spec-work-ticket' }, viewLink(spec.ticket_id, 'tickets', spec.ticket_id), ' ', workTicket ? badge(workTicket.status) : null) : 'not created yet (SYNC makes it)'],
      ['branch', spec.head ? `omoi/${spec.ticket_id} @ ${shortSha(spec.head)}` : null],
      ['delivery', deliveryView(spec, workTicket)],
      ['updated', el('span', { title: spec.updated_at }, `${age(spec.updated_at)} ago`)],
    ].filter(([, v]) => v !== null && v !== undefined && v !== '');
    meta.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));

    // Actions: replan from any planning phase (the current one by default), cancel while it runs, decide at a gate.
    if (!phaseChosen) fromPhase.value = PLANNING.includes(spec.phase) ? spec.phase : 'TASKS';
    cancelButton.hidden = !CANCELLABLE.has(spec.status);
    const waiting = spec.status === 'awaiting_approval';
    approveButton.hidden = !waiting;
    rejectButton.hidden = !waiting;
    gateNote.hidden = !waiting;
    gateNote.textContent = waiting ? `${spec.phase} passed its gate and waits for a person: ` : '';
    const decisions = Array.isArray(detail.decisions) ? detail.decisions : [];
    approvals.hidden = decisions.length === 0;
    approvals.replaceChildren(...decisions.map((a) => el('li', { class: `approval ${a.decision || ''}` },
      `${a.gate}: ${a.decision} by ${a.principal} at ${new Date(a.at).toLocaleString()}${a.comment ? ` — ${a.comment}` : ''}`)));

    stepper.replaceChildren(...phaseStates(spec).map(({ phase, state }) => el('li', {
      class: `step step-${state}`, dataset: { phase, state }, 'aria-current': state === 'todo' || state === 'done' ? null : 'step',
    }, el('span', { class: 'step-name' }, phase), STEP_TEXT[state] ? el('span', { class: 'step-state' }, STEP_TEXT[state]) : null)));

    const artifacts = detail.artifacts || [];
    phases.replaceChildren(...PLANNING.map((phase) => phaseSection(spec, phase, detail.tickets || [], artifacts)));
    work.replaceChildren(workSection(spec, detail.tickets || []));
  }

  /** A planning phase: its runs, newest first, each with its ticket, artifact version and gate verdict. */
  function phaseSection(spec, phase, allTickets, artifacts) {
    const byTicket = new Map(artifacts.filter((a) => a.phase === phase).map((a) => [a.ticket_id, a]));
    const runs = allTickets.filter((t) => t.spec_phase === phase).map((t) => ({ ticket: t, artifact: byTicket.get(t.id), n: runNumber(t.id) }));
    // An artifact whose ticket is not listed (it should not happen) still shows.
    for (const a of byTicket.values()) if (!runs.some((r) => r.ticket.id === a.ticket_id)) runs.push({ ticket: { id: a.ticket_id }, artifact: a, n: a.version });
    runs.sort((a, b) => b.n - a.n);
    const section = el('section', { class: 'spec-phase', id: `spec-phase-${phase}`, dataset: { phase }, 'aria-labelledby': `spec-phase-${phase}-h` },
      el('h3', { id: `spec-phase-${phase}-h` }, phase, runs.length ? el('span', { class: 'muted' }, ` · ${runs.length} run${runs.length === 1 ? '' : 's'}`) : null));
    if (runs.length === 0) {
      section.append(el('p', { class: 'empty' }, 'Not run yet.'));
      return section;
    }
    runs.forEach((run, i) => section.append(runView(spec, phase, run, i === 0)));
    return section;
  }

  function runView(spec, phase, { ticket, artifact, n }, newest) {
    const gate = artifact && artifact.gate ? artifact.gate : null;
    const verdict = !artifact ? 'running' : gate && gate.passed ? 'passed' : 'not_met';
    const findings = gate && Array.isArray(gate.findings) ? gate.findings : [];
    const key = `${phase}:${n}`;
    const content = artifact ? artifactView(phase, artifact, newest) : el('p', { class: 'muted' }, ticket.status && ticket.status !== 'open' && ticket.status !== 'running' ? `The run ended ${ticket.status}; its gate is being applied.` : 'Running: no artifact yet.');
    return el('div', { class: `spec-run verdict-${verdict}`, dataset: { run: ticket.id, version: String(n), verdict } },
      el('div', { class: 'spec-run-head' },
        el('strong', {}, `v${n}`), ' ', viewLink(ticket.id, 'tickets', ticket.id), ' ', ticket.status ? badge(ticket.status) : null, ' ',
        el('span', { class: `badge verdict verdict-${verdict}` }, verdict === 'passed' ? 'gate passed' : verdict === 'not_met' ? 'gate not met' : 'gate pending')),
      findings.length ? el('ul', { class: 'findings', 'aria-label': `gate findings of ${phase} v${n}` }, findings.map((f) => el('li', { class: 'finding', dataset: { code: f.code } },
        el('code', {}, f.code), `: ${f.message}`, f.path ? el('span', { class: 'muted' }, ` (at ${f.path})`) : null))) : null,
      newest ? content : el('details', {
        class: 'spec-run-artifact', open: openRuns.has(key),
        ontoggle: (e) => { if (e.target.open) openRuns.add(key); else openRuns.delete(key); },
      }, el('summary', {}, artifact ? `artifact v${n}` : 'run'), content),
    );
  }

  function artifactView(phase, artifact, newest) {
    const b = artifact.body;
    if (b === null || b === undefined) return el('p', { class: 'muted' }, 'No artifact: the run gave none.');
    try {
      if (phase === 'EXPLORE') return exploreView(b);
      if (phase === 'REQUIREMENTS') return requirementsView(b);
      if (phase === 'DESIGN') return designView(b);
      return tasksView(artifact, newest);
    } catch {
      // A body that does not have its phase's shape (its gate says what is wrong): shown as it is.
      return el('pre', { class: 'artifact-raw' }, JSON.stringify(b, null, 2));
    }
  }

  function tasksView(artifact, newest) {
    const b = artifact.body;
    const tasks = list(b.tasks);
    const options = [['ownership', b.ownership], ['check command', b.check_command], ['resolver command', b.resolver_command]].filter(([, v]) => v);
    if (newest) {
      renderGraph(graphBox, {
        ticket: { id: artifact.ticket_id },
        tasks: tasks.map((t) => ({ id: String(t.id), depends_on: list(t.depends_on || []), status: 'planned', spec: { title: t.title, run: t.run }, created_at: artifact.created_at, updated_at: artifact.created_at })),
        joins: [],
      }, { taskHref: () => null, fallback: (target) => target.replaceChildren(el('p', { class: 'muted' }, 'The tasks are listed in the table below.')) });
    }
    return el('div', { class: 'artifact tasks-artifact' },
      options.length ? el('dl', { class: 'kv' }, ...options.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, el('code', {}, v))])) : null,
      newest ? graphBox : null,
      el('div', { class: 'table-wrap' }, el('table', { class: 'spec-tasks' },
        el('thead', {}, el('tr', {}, ...['task', 'title', 'depends on', 'owns', 'run', 'check', 'requirements'].map((h) => el('th', { scope: 'col' }, h)))),
        el('tbody', {}, tasks.map((t) => el('tr', { dataset: { task: String(t.id) } },
          el('td', { class: 'id' }, String(t.id)), el('td', {}, t.title || ''),
          el('td', {}, list(t.depends_on || []).join(', ')), el('td', {}, el('code', {}, list(t.owns || []).join(', '))),
          el('td', {}, t.run ? el('code', { class: 'run' }, t.run) : t.prompt ? t.prompt : ''), el('td', {}, t.check ? el('code', {}, t.check) : ''),
          el('td', {}, list(t.requirements || []).join(', '))))))));
  }

  /** The newest spec, read again (`after` of an action). */
  const reloadNow = () => load();

  function replan() {
    const phase = fromPhase.value;
    return runAction({
      question: `Plan ${id} again from ${phase}? ${phase} runs again (a new version of its artifact) and every phase after it; the ticket the spec waits for is cancelled.`,
      ask: 'Reason (optional, given to the planner):',
      what: `replan of ${id} from ${phase}`,
      answerEl: answer,
      run: (why) => post(`/api/specs/${enc}/replan`, { from_phase: phase, ...(why ? { reason: why } : {}) }),
      after: reloadNow,
    });
  }

  function cancel() {
    return runAction({
      question: `Cancel spec ${id}? It ends failed, and the ticket it waits for is cancelled. A replan starts it again.`,
      ask: 'Reason (optional):',
      what: `cancel of ${id}`,
      answerEl: answer,
      run: (why) => post(`/api/specs/${enc}/cancel`, why ? { reason: why } : {}),
      after: reloadNow,
    });
  }

  function decide(action) {
    const phase = shown ? shown.phase : undefined;
    const approving = action === 'approve';
    return runAction({
      question: approving ? `Approve ${phase} of ${id}? The next phase starts.` : `Reject ${phase} of ${id}? The spec does not go on from it.`,
      ask: approving ? 'Comment (optional):' : 'Comment (required):',
      what: `${approving ? 'approval' : 'rejection'} of ${id}`,
      answerEl: answer,
      run: (comment) => post(`/api/specs/${enc}/${action}`, { ...(phase ? { phase } : {}), ...(comment ? { comment } : {}) }),
      after: reloadNow,
    });
  }

  load();
  const offReset = onReset(() => load());
  return {
    onEvents(events) {
      const mine = events.some((e) => (typeof e.type === 'string' && e.type.startsWith('spec.') && e.payload && e.payload.spec_id === id)
        || (e.ticket_id && tickets.has(e.ticket_id)));
      if (mine) load();
    },
    unmount() {
      alive = false;
      offReset();
    },
  };
}

/** The work tickets SYNC made (one per plan; a replan makes another), the current one first. */
function workSection(spec, allTickets) {
  const work = allTickets.filter((t) => t.spec_phase === 'EXECUTE').sort((a, b) => runNumber(b.id) - runNumber(a.id));
  if (work.length === 0) return el('p', { class: 'empty' }, 'No work ticket yet: SYNC makes it from the TASKS artifact that passed.');
  return el('ul', { class: 'spec-work' }, work.map((t) => el('li', { dataset: { ticket: t.id } },
    viewLink(t.id, 'tickets', t.id), ' ', badge(t.status), t.id === spec.ticket_id ? el('span', { class: 'muted' }, ' (the spec follows this one)') : null,
    t.head ? el('span', { class: 'sha' }, ` ${shortSha(t.head)}`) : null, t.reason ? el('div', { class: 'reason' }, t.reason) : null)));
}

/** Where the work ticket's branch goes and how far it got (the ticket's `delivery_status`), with its pull request. */
function deliveryView(spec, workTicket) {
  const d = spec.delivery;
  if (!d) return null;
  const status = workTicket && workTicket.delivery_status ? workTicket.delivery_status : 'after completion';
  const branch = d.branch || (spec.ticket_id ? `omoi/${spec.ticket_id}` : 'omoi/<work ticket>');
  const pr = workTicket && workTicket.pull_request_url && /^https?:\/\//.test(workTicket.pull_request_url) ? workTicket.pull_request_url : null;
  return el('span', { id: 'spec-delivery' }, badge(status), ` ${branch} → `, el('code', {}, d.remote || spec.repository),
    workTicket && workTicket.delivered_commit ? el('span', { class: 'sha' }, ` @ ${shortSha(workTicket.delivered_commit)}`) : null,
    pr ? el('span', {}, ' · ', el('a', { class: 'pull-request', href: pr, target: '_blank', rel: 'noopener noreferrer' }, pr)) : null);
}

/** The run number of a phase ticket (`spec-<spec>-<phase>-v<n>`). */
function runNumber(ticketId) {
  const m = /-v(\d+)$/.exec(ticketId);
  return m ? Number(m[1]) : 0;
}

/** An array, or a throw (the body is not of its phase's shape: it is shown raw). */
function list(value) {
  if (!Array.isArray(value)) throw new Error('not a list');
  return value;
}

function exploreView(b) {
  const files = list(b.files || []);
  return el('div', { class: 'artifact explore-artifact' },
    b.summary ? el('p', {}, b.summary) : null,
    el('h4', {}, 'Findings'), el('ul', { class: 'artifact-findings' }, list(b.findings).map((f) => el('li', {}, String(f)))),
    files.length ? el('details', {}, el('summary', {}, files.length === 1 ? '1 file that matters' : `${files.length} files that matter`),
      el('ul', { class: 'files' }, files.map((f) => el('li', {}, String(f))))) : null);
}

function requirementsView(b) {
  return el('ol', { class: 'artifact requirements' }, list(b.requirements).map((r) => el('li', { dataset: { requirement: String(r.id) } },
    el('span', { class: 'id' }, String(r.id)), ' ', r.title || '',
    el('ul', { class: 'acceptance', 'aria-label': `acceptance criteria of ${r.id}` }, list(r.acceptance).map((a) => el('li', {}, ears(String(a))))))));
}

/** An EARS criterion with its structure words (WHEN … THE SYSTEM SHALL …) set apart. */
function ears(text) {
  return text.split(EARS_WORDS).filter((part) => part !== '').map((part) => (EARS_WORDS.test(part) && /^[A-Z ]+$/.test(part) ? el('strong', { class: 'ears' }, part) : part));
}

function designView(b) {
  return el('div', { class: 'artifact design-artifact' },
    el('p', { class: 'design-summary' }, String(b.summary || '')),
    el('h4', {}, 'Components'),
    el('dl', { class: 'kv components' }, list(b.components).flatMap((c) => [
      el('dt', {}, String(c.name)),
      el('dd', {}, String(c.description || ''), c.files && list(c.files).length ? el('div', { class: 'files' }, c.files.join(', ')) : null)])),
    b.decisions && list(b.decisions).length ? [el('h4', {}, 'Decisions'), el('ul', {}, b.decisions.map((d) => el('li', {}, String(d))))] : null);
}
