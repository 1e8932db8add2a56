/**
 * After a command is done, the process should end by itself. If user code left
 * handles open (servers, timers), say so and exit anyway after a grace period.
 */
export function exitSoon(): void {
  setTimeout(() => {
    process.stderr.write('lightbus WARNING handles still open 2s after shutdown; exiting anyway\n');
    process.exit();
  }, 2000).unref();
}
