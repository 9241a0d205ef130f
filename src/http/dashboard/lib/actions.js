import { Unauthorized, guarded } from './api.js';

/**
 * One action a person takes from the page: a confirmation (with an optional reason or value
 * asked for), the API call, and the server's answer shown in `answerEl` — accepted or refused,
 * with its code. `ask` is the prompt's text when a value is wanted (null from the dialog = not
 * confirmed); without it a yes/no confirm() is asked. Returns the answer, or undefined.
 */
export async function runAction({ question, ask, run, answerEl, what, after }) {
  let value;
  if (ask) {
    value = window.prompt(`${question}\n${ask}`, '');
    if (value === null) return undefined;
  } else if (!window.confirm(question)) {
    return undefined;
  }
  if (answerEl) answerEl.textContent = '';
  let answer;
  await guarded(async () => {
    try {
      answer = await run(value);
      if (answerEl) answerEl.textContent = `${what} accepted${answer && answer.message_id ? ` (message ${answer.message_id})` : ''}`;
    } catch (err) {
      if (err instanceof Unauthorized) throw err;
      if (answerEl) answerEl.textContent = `${what} refused: ${err.message}`;
    }
    if (after) await after();
  });
  return answer;
}
