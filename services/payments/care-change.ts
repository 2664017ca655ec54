// What every change customer care makes to a subscriber (kyc.ts, blocks.ts) checks first, before it
// writes anything: the operator's own number (by its ranges: another operator's subscriber is not its
// care's to change, nor to text through its link), the agent's name and the change's reference
// (evidence, reason), each trimmed to the audit columns' bound.
import type { Config, OperatorConfig } from '../../runtime/config/index.js';
import { isE164, numberBelongsTo, toE164 } from '../../runtime/msisdn.js';

/** The audit columns' bound: a name or a reference, not a document. */
export const AUDIT_TEXT_MAX = 200;

export type CareChangeCheck<F extends string> =
  | { readonly ok: true; readonly operator: OperatorConfig; readonly msisdn: string; readonly by: string; readonly reference: string }
  | { readonly ok: false; readonly kind: 'bad-number' }
  | { readonly ok: false; readonly kind: 'missing'; readonly field: 'by' | F };

/** `reference`: the change's own required text, named as its refusal names it (evidence, reason). */
export function checkCareChange<F extends string>(
  config: Config, change: { readonly operatorId: string; readonly msisdn: string; readonly by: string },
  reference: { readonly field: F; readonly value: string },
): CareChangeCheck<F> {
  const operator = config.operators.find((o) => o.id === change.operatorId);
  if (!operator) throw new RangeError(`unknown operator "${change.operatorId}"`);
  const msisdn = toE164(change.msisdn, operator.countryCallingCode);
  if (!msisdn || !isE164(msisdn) || !numberBelongsTo(operator, msisdn, config.operators)) return { ok: false, kind: 'bad-number' };
  const by = change.by.trim().slice(0, AUDIT_TEXT_MAX);
  const text = reference.value.trim().slice(0, AUDIT_TEXT_MAX);
  if (by === '') return { ok: false, kind: 'missing', field: 'by' };
  if (text === '') return { ok: false, kind: 'missing', field: reference.field };
  return { ok: true, operator, msisdn, by, reference: text };
}
