/** Runs `fn` now, then again `ms` after each run ends (never two at once), until the returned stop is called. */
export function repeat(ms, fn) {
  let stopped = false;
  let timer = null;
  const run = async () => {
    await fn();
    if (!stopped) timer = setTimeout(run, ms);
  };
  run();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
