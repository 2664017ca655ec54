// Whether an operator sells airtime through dialpay: pure, the one rule the USSD menu, the SMS
// AIRTIME command, payments' checks and billing's top-up all read. An operator offers airtime
// when dialpay can credit a line there: the simulated carrier always can, any other adapter only
// through the operator's top-up interface (operators[].topUp, docs/top-up-api.md).
import type { OperatorConfig } from './config/index.js';

export function offersAirtime(operator: Pick<OperatorConfig, 'billingAdapter' | 'topUp'>): boolean {
  return operator.billingAdapter === 'simulator' || operator.topUp !== undefined;
}
