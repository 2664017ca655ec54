// A failure's reason as the proto's FailureReason (pure).
import { dialpay } from '../../proto/index.js';
import { FailureReason, type FailureReasonValue } from './state.js';

export function failureCode(reason: FailureReasonValue): dialpay.v1.FailureReason {
  const F = dialpay.v1.FailureReason;
  switch (reason) {
    case FailureReason.LIMIT: return F.FAILURE_REASON_LIMIT_EXCEEDED;
    case FailureReason.INSUFFICIENT_FUNDS: return F.FAILURE_REASON_INSUFFICIENT_FUNDS;
    case FailureReason.EXPIRED: return F.FAILURE_REASON_CHALLENGE_EXPIRED;
    case FailureReason.WRONG_CODE: return F.FAILURE_REASON_CHALLENGE_FAILED;
    case FailureReason.CANCELLED: return F.FAILURE_REASON_CANCELLED;
    case FailureReason.UNKNOWN_PAYEE: return F.FAILURE_REASON_UNKNOWN_PAYEE;
    case FailureReason.CARRIER_ERROR: return F.FAILURE_REASON_CARRIER_ERROR;
    case FailureReason.PIN_LOCKED: return F.FAILURE_REASON_PIN_LOCKED;
    case FailureReason.WALLET_BALANCE_MAX: return F.FAILURE_REASON_LIMIT_EXCEEDED;
    case FailureReason.RISK_REJECTED:
    case FailureReason.HOLD_EXPIRED:
      return F.FAILURE_REASON_RISK_DECLINED;
  }
}
