// Settlement and interop windows are calendar days that close CLOSE_GRACE_MS after they end. Tests
// that moved today's ledger to "yesterday" failed in a CI run that began two minutes after midnight:
// yesterday had ended but was not yet closable. So a test file takes one instant when it loads, names
// days relative to it, closes only days at least two back, and moves rows to a day's noon (UTC),
// far from either of its edges, whatever the clock reads while the file runs.
const ANCHOR_MS = Date.now();
const DAY_MS = 86_400_000;

/** The UTC date `offsetDays` from when this file loaded, as `YYYY-MM-DD` (a window's date). */
export function day(offsetDays: number): string {
  return new Date(ANCHOR_MS + offsetDays * DAY_MS).toISOString().slice(0, 10);
}

/** Noon (UTC) of `day(offsetDays)`: where a test moves a transfer it wants in that day's window. */
export function noonOf(offsetDays: number): Date {
  return new Date(`${day(offsetDays)}T12:00:00.000Z`);
}
