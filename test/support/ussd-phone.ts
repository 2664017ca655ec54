// A phone on a USSD aggregator: each answer is POSTed to the HTTP edge the
// way Africa's Talking does it, with every answer so far joined by "*", and
// the edge's shared secret when one is set (USSD_TEST_SECRET).
import { randomUUID } from 'node:crypto';
import { USSD_SECRET_HEADER } from '../../gateway/index.js';

/** The shared secret suites give the edge (ussd.http.sharedSecret); the aggregator sends it on every post. */
export const USSD_TEST_SECRET = 'test-aggregator-shared-secret';

export interface UssdScreen {
  readonly text: string;
  readonly end: boolean;
  readonly status: number;
}

export async function postUssd(port: number, form: Record<string, string>, secret: string | null = USSD_TEST_SECRET): Promise<UssdScreen> {
  const res = await fetch(`http://127.0.0.1:${port}/ussd`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(secret ? { [USSD_SECRET_HEADER]: secret } : {}) },
    body: new URLSearchParams(form).toString(),
    signal: AbortSignal.timeout(15_000),
  });
  const body = await res.text();
  if (!/^(CON|END) /.test(body)) throw new Error(`not a USSD answer: ${res.status} ${body}`);
  return { text: body.slice(4), end: body.startsWith('END '), status: res.status };
}

export class UssdPhone {
  readonly #answers: string[] = [];
  readonly sessionId = `ATUid_${randomUUID()}`;

  constructor(readonly port: number, readonly phoneNumber: string, readonly serviceCode = '*384#') {}

  dial(): Promise<UssdScreen> {
    this.#answers.length = 0;
    return this.#post();
  }

  /** Answers the current screen; `...more` answers the screens after it, returning the last. */
  async answer(input: string, ...more: string[]): Promise<UssdScreen> {
    let screen: UssdScreen;
    this.#answers.push(input);
    screen = await this.#post();
    for (const next of more) {
      if (screen.end) throw new Error(`session ended before "${next}": ${screen.text}`);
      this.#answers.push(next);
      screen = await this.#post();
    }
    return screen;
  }

  #post(): Promise<UssdScreen> {
    return postUssd(this.port, { sessionId: this.sessionId, serviceCode: this.serviceCode, phoneNumber: `+${this.phoneNumber}`, networkCode: '63902', text: this.#answers.join('*') });
  }
}
