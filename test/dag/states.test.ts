import t from 'tap';
import { ConflictError, TerminalError } from '../../src/errors.ts';
import {
  TaskState,
  TicketState,
  assertTicketTransition,
  assertTransition,
  canTicketTransition,
  canTransition,
  isTaskState,
  isTerminal,
  isTicketState,
} from '../../src/dag/index.ts';
import { thrown } from './helpers.ts';

// Written out independently of TASK_TRANSITIONS, from the brief, so a wrong table fails here.
const LEGAL_TASK = new Set([
  'pending>waiting_for_files',
  'pending>ready',
  'pending>blocked',
  'pending>cancelled',
  'waiting_for_files>ready',
  'waiting_for_files>cancelled',
  'ready>assigned',
  'ready>cancelled',
  'assigned>running',
  'assigned>ready',
  'assigned>cancelled',
  'running>completed',
  'running>failed',
  'running>blocked',
  'running>ready',
  'running>cancelled',
  'blocked>ready',
  'blocked>pending',
  'blocked>cancelled',
  // A person's retry (`task.retry`) of a task that ended without completing.
  'failed>pending',
  'failed>blocked',
  'cancelled>pending',
  'cancelled>blocked',
]);

const LEGAL_TICKET = new Set([
  'open>running',
  'open>cancelled',
  'open>awaiting_approval', // created with the before_execute gate
  'awaiting_approval>running', // approved
  'awaiting_approval>cancelled', // rejected, or cancelled while waiting
  'running>completed',
  'running>failed',
  'running>cancelled',
  'failed>running', // a person retried the task it failed for
]);

const taskStates = Object.values(TaskState);
const ticketStates = Object.values(TicketState);

t.test('the state lists', async (t) => {
  t.same(taskStates, [
    'pending',
    'waiting_for_files',
    'ready',
    'assigned',
    'running',
    'completed',
    'failed',
    'blocked',
    'cancelled',
  ]);
  t.same(ticketStates, ['open', 'awaiting_approval', 'running', 'completed', 'failed', 'cancelled']);
});

t.test('every task state pair: legal ones pass, every other one is rejected', async (t) => {
  let illegal = 0;
  for (const from of taskStates) {
    for (const to of taskStates) {
      const legal = LEGAL_TASK.has(`${from}>${to}`);
      t.equal(canTransition(from, to), legal, `${from} → ${to} is ${legal ? 'legal' : 'illegal'}`);
      if (legal) {
        t.doesNotThrow(() => assertTransition(from, to, 'T1'));
      } else {
        illegal++;
        const err = thrown(() => assertTransition(from, to, 'T1'));
        t.equal(err.code, 'illegal_transition');
        t.type(err, ConflictError);
        t.equal(err.status, 409);
        t.same(err.details, { task: 'T1', from, to });
        t.match(err.message, `"T1" cannot go from ${from} to ${to}`);
      }
    }
  }
  t.equal(illegal, taskStates.length ** 2 - LEGAL_TASK.size, 'every illegal pair was checked');
});

t.test('every ticket state pair: legal ones pass, every other one is rejected', async (t) => {
  for (const from of ticketStates) {
    for (const to of ticketStates) {
      const legal = LEGAL_TICKET.has(`${from}>${to}`);
      t.equal(canTicketTransition(from, to), legal, `${from} → ${to} is ${legal ? 'legal' : 'illegal'}`);
      if (legal) {
        t.doesNotThrow(() => assertTicketTransition(from, to, 'K1'));
      } else {
        const err = thrown(() => assertTicketTransition(from, to, 'K1'));
        t.type(err, TerminalError);
        t.equal(err.code, 'illegal_transition');
        t.same(err.details, { ticket: 'K1', from, to });
      }
    }
  }
});

t.test('every non-terminal task state can be cancelled; terminal states go nowhere but back through a retry', async (t) => {
  for (const s of taskStates) {
    t.equal(canTransition(s, 'cancelled'), !isTerminal(s), s);
    if (isTerminal(s)) {
      const exits = taskStates.filter((to) => canTransition(s, to));
      t.same(exits, s === 'completed' ? [] : ['pending', 'blocked'], `${s}: ${exits.length ? 'only a person\'s retry leaves it' : 'a dead end'}`);
    }
  }
});

t.test('terminal states', async (t) => {
  t.same(taskStates.filter(isTerminal), ['completed', 'failed', 'cancelled']);
  t.same(ticketStates.filter(isTerminal), ['completed', 'failed', 'cancelled']);
  t.notOk(isTerminal('blocked'), 'blocked waits for a person; it is not an end');
});

t.test('unknown states are never legal', async (t) => {
  t.notOk(canTransition('bogus' as TaskState, 'ready'));
  t.notOk(canTransition('pending', 'bogus' as TaskState));
  t.notOk(canTransition('toString' as TaskState, 'ready'), 'prototype keys are not states');
  t.equal(thrown(() => assertTransition('bogus' as TaskState, 'ready', 'T')).code, 'illegal_transition');
  t.notOk(canTicketTransition('open', 'bogus' as TicketState));
  t.ok(isTaskState('waiting_for_files'));
  t.notOk(isTaskState('open'));
  t.notOk(isTaskState('constructor'));
  t.notOk(isTaskState(3));
  t.ok(isTicketState('open'));
  t.notOk(isTicketState('pending'));
});
