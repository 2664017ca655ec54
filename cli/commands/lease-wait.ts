// How `dialpay settle` and `dialpay reconcile` wait for another process doing the same work.

/**
 * How long they wait for another closer or run of the same window (a settlement replica, another
 * host's timer) to finish or die: longer than a close or a run takes. Once it is free they answer
 * with what it stored, or do the work it left unfinished.
 */
export const LEASE_WAIT_MS = 15 * 60_000;
export const leaseWaitNote = (what: string) => () =>
  process.stderr.write(`dialpay: another process is ${what}; waiting for it (up to ${LEASE_WAIT_MS / 60_000} min)\n`);
