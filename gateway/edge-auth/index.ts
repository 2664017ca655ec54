// Who may talk to an edge: address allow lists, shared secrets, a limit on
// failed attempts per source, and the caller's address behind trusted proxies.
// Used by the SMPP server, the USSD HTTP edge and the merchant API.
export { allowList, isAllowed, normalizeRemote } from './allow-list.js';
export { AuthFailureLimiter, sourceKey, type AuthFailureLimits } from './failure-limiter.js';
export { clientAddress } from './forwarded.js';
export { presentedDigest, secretMatches, SharedSecrets } from './secret.js';
