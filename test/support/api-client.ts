// A caller of the merchant and operator HTTP API for tests: a bearer key (the default one, another,
// or none), JSON bodies (a PUT's too), and a fresh Idempotency-Key on every POST unless one is given.
export interface ApiCallOptions {
  /** undefined: the default key; null: no Authorization header. */
  readonly key?: string | null;
  readonly body?: unknown;
  readonly idempotencyKey?: string;
}

export interface ApiAnswer {
  readonly status: number;
  readonly type: string;
  readonly body: any;
}

export function apiCaller(
  baseUrl: () => string, defaultKey: () => string,
): (method: string, path: string, options?: ApiCallOptions) => Promise<ApiAnswer> {
  let idempotencyKeys = 0;
  return async (method, path, options = {}) => {
    const headers: Record<string, string> = {};
    const key = options.key === undefined ? defaultKey() : options.key;
    if (key) headers.authorization = `Bearer ${key}`;
    if (method === 'POST' || options.body !== undefined) headers['content-type'] = 'application/json';
    if (method === 'POST') headers['idempotency-key'] = options.idempotencyKey ?? `k-${++idempotencyKeys}`;
    const res = await fetch(`${baseUrl()}${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: text ? JSON.parse(text) : null };
  };
}
