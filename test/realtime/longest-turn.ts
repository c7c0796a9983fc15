// A measure of how long the event loop is held, in CPU time rather than wall time.

/**
 * Watches the event loop with a 10 ms interval timer and resolves, when
 * stopped, the most CPU time (`process.cpuUsage`, this process) used between
 * two of its firings: the longest stretch a bystander can wait behind when the
 * process has a core. A round trip's wall time (or the event-loop delay)
 * also counts the time a loaded machine keeps the process waiting for a core:
 * beside Chromium tests, another copy and a busy loop, round trips of
 * 0.8-2.9 s and event-loop delays of 1.4-2.4 s were seen while this stayed at
 * 99-190 ms. The readers' and the bystander's own work runs in this process
 * too, which only makes the bound stricter.
 */
export function watchLongestTurn(): () => number {
  let last = process.cpuUsage();
  let worst = 0;
  const timer = setInterval(() => {
    const used = process.cpuUsage(last);
    last = process.cpuUsage();
    worst = Math.max(worst, (used.user + used.system) / 1000);
  }, 10);
  timer.unref(); // a failed read must not leave it running
  return () => {
    clearInterval(timer);
    return worst;
  };
}
