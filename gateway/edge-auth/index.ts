// Who may talk to an edge: address allow lists, shared secrets, and a limit on
// failed attempts per source. Used by the SMPP server, the USSD HTTP edge and
// the merchant API.
export { allowList, isAllowed, normalizeRemote } from './allow-list.js';
export { AuthFailureLimiter, type AuthFailureLimits } from './failure-limiter.js';
export { secretMatches } from './secret.js';
