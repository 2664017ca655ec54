-- Up Migration
-- PaymentRequested, PaymentChallenged, PaymentConfirmed, PaymentCompleted and PaymentFailed are
-- notifications now (core NATS after the commit, runtime/nats/notify.ts), no longer queued here.
-- Rows an older release queued for them would go to dialpay.payment.*: a subject payments may no
-- longer publish to, whose PAYMENTS stream may be gone. Nobody consumed them; each would fail
-- every relay pass (payments not ready: 'outbox') and hold back what is queued behind it.
DELETE FROM outbox WHERE subject LIKE 'dialpay.payment.%';

-- Down Migration
-- Nothing to restore: the rows were notifications nobody read.
