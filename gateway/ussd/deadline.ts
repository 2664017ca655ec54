// What every USSD edge (HTTP and SMPP) shares: how long a hop may take, and
// what the subscriber reads when the menu could not answer in time.
import type { OperatorConfig } from '../../runtime/config/index.js';
import { edgeText } from './texts.js';

/** The operator gives up on a hop after operatorTimeoutMs; we answer this much before, so our END still reaches the phone. */
export const HOP_MARGIN_MS = 1_000;
/** The ussd service always gets at least this long, whatever the operator's timeout. */
export const HOP_TIMEOUT_MS_MIN = 500;

export function hopTimeoutMs(operatorTimeoutMs: number): number {
  return Math.max(HOP_TIMEOUT_MS_MIN, operatorTimeoutMs - HOP_MARGIN_MS);
}

/** The END a phone gets when the ussd service did not answer in time, so it is not left hanging. */
export function unavailableText(language: OperatorConfig['defaultLanguage']): string {
  return edgeText('unavailable', language);
}
