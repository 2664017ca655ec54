// One error class per condition, each with name, cause and typed context.

export class PublishError extends Error {
  override readonly name = 'PublishError';
  constructor(readonly subject: string, readonly eventId: string, options: { cause: unknown }) {
    super(`publish to ${subject} failed for event ${eventId}: ${(options.cause as Error)?.message ?? String(options.cause)}`, options);
  }
}

/** Thrown by a handler when retrying cannot help: the message goes to the dead-letter stream at once. */
export class PermanentHandlerError extends Error {
  override readonly name = 'PermanentHandlerError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * Thrown by a handler whose message cannot be handled yet for a reason outside it, that time will
 * fix (no bind to the operator's SMSC is up): not a failure. On a consumer whose spec allows waits
 * (ConsumerSpec.waitsUnbounded) the message is nak'd with delayMs and delivered again, as often as
 * it takes, never dead-lettered for it; the handler itself bounds the waits (the message's useful
 * life). On any other consumer it counts as an ordinary failure.
 */
export class RetryLaterError extends Error {
  override readonly name: string = 'RetryLaterError';
  constructor(message: string, readonly delayMs: number, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * A message on a subject could not be decoded as the subject's type, or broke its contract (the envelope, an enum value:
 * EventDef.validate).
 */
export class UndecodableMessageError extends Error {
  override readonly name = 'UndecodableMessageError';
  constructor(readonly subject: string, readonly streamSequence: number, options: { cause: unknown }) {
    const reason = (options.cause as Error)?.message ?? String(options.cause);
    super(`message ${streamSequence} on ${subject} does not decode: ${reason}`, options);
  }
}
