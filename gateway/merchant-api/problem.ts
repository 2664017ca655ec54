// Errors as RFC 9457 problem details (application/problem+json). Each type
// is a stable, documented URI path; the OpenAPI document lists them.

export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail?: string;
  /** The resource this occurrence is about (a refused payout's URL), when there is one. */
  readonly instance?: string;
  /** For validation problems: where in the body, and what is wrong there. */
  readonly errors?: readonly { readonly pointer: string; readonly detail: string }[];
}

export const PROBLEMS = {
  unauthorized: { status: 401, title: 'Missing or invalid API key' },
  'not-found': { status: 404, title: 'Not found' },
  'idempotency-key-required': { status: 400, title: 'Idempotency-Key header required on every POST' },
  'idempotency-conflict': { status: 409, title: 'Idempotency-Key already used with another body' },
  'malformed-request': { status: 400, title: 'The request could not be read' },
  'unsupported-media-type': { status: 415, title: 'Send application/json' },
  'body-too-large': { status: 413, title: 'Request body too large' },
  validation: { status: 422, title: 'The request is not valid' },
  'payment-refused': { status: 422, title: 'The payment was refused' },
  'too-many-open-requests': { status: 409, title: 'Too many requests await this payer\'s answer' },
  'too-many-unanswered-requests': { status: 409, title: 'Too many requests to this payer went unanswered in the last 24 hours' },
  'rate-limited': { status: 429, title: 'Too many requests for this API key' },
  'too-many-auth-failures': { status: 429, title: 'Too many failed authentications from this address' },
  forbidden: { status: 403, title: 'Not allowed for this caller' },
  'limit-exceeded': { status: 422, title: 'Over a configured limit' },
  'insufficient-balance': { status: 409, title: 'The merchant\'s available balance does not cover this payout; nothing moved' },
  'credit-refused': { status: 422, title: 'The wallet could not be credited; nothing moved' },
  'reference-conflict': { status: 409, title: 'This reference was used before for another agent or amount; nothing booked' },
  unavailable: { status: 503, title: 'Try again shortly' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemType = keyof typeof PROBLEMS;

export function problem(type: ProblemType, detail?: string, errors?: Problem['errors'], instance?: string): Problem {
  const { status, title } = PROBLEMS[type];
  return {
    type: `/problems/${type}`, title, status,
    ...(detail ? { detail } : {}), ...(errors ? { errors } : {}), ...(instance ? { instance } : {}),
  };
}
