/**
 * `fn` wrapped so that calls never overlap: a call while one runs asks for exactly one more run
 * after it (a burst of live events reloads a page twice at most, never once per event).
 */
export function coalesced(fn) {
  let running = null;
  let again = false;
  const run = async () => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await fn();
      } while (again);
    })();
    try {
      await running;
    } finally {
      running = null;
    }
  };
  return run;
}
