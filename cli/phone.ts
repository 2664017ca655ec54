// `dialpay phone <msisdn>`: a feature phone in the terminal. It attaches to the
// operator simulator's phone line (operator-sim/phone-line.ts) and
// is then one of its subscribers: a typed line is an SMS to the short code, a
// line like *384# dials USSD, and what the network sends shows up as it comes.
import { createInterface } from 'node:readline';
import { msisdnDigits, operatorForNumber, type PhoneLineOperator, type UssdReply } from '../operator-sim/index.js';

const REQUEST_TIMEOUT_MS = 20_000;
/** A number or phone line given wrongly: sysexits' EX_USAGE, as the rest of the CLI. */
const EXIT_USAGE = 64;
/** How long a phone whose input has ended (a script piped in) waits for the last SMS. */
const LINGER_AFTER_INPUT_MS = 3_000;

export interface PhoneOptions {
  /** host:port of the operator simulator's phone line. */
  readonly line: string;
  readonly input: NodeJS.ReadableStream;
  readonly output: NodeJS.WritableStream;
}

const HELP = `  Type a message and Enter to text it to the short code (PAY SHOP42 150 coffee, BAL, HELP).
  Start with another short code and a colon to text that one instead (20384: BAL).
  Dial a USSD code (*384#); while a session is open, each line answers the screen.
  /cancel ends a USSD session, /help shows this, /quit hangs up.
`;

/** The simulated operator whose number ranges hold `msisdn`, or the exit code when there is none (or no phone line). */
async function lineOperator(line: string, msisdn: string, say: (text: string) => void): Promise<PhoneLineOperator | number> {
  let operators: PhoneLineOperator[];
  try {
    operators = ((await getJson(`http://${line}/`)) as { operators: PhoneLineOperator[] }).operators;
  } catch (err) {
    say(`no phone line at ${line} (${(err as Error).message}). Start one with \`make run\` or \`dialpay operator-sim\`.`);
    return 1;
  }
  const operator = operatorForNumber(operators, msisdn);
  if (!operator) {
    const ranges = operators.flatMap((op) => op.numberRanges.map((r) => `+${r}`)).join(', ');
    say(`no simulated operator serves +${msisdn}; number ranges: ${ranges}`);
    return EXIT_USAGE;
  }
  return operator;
}

export async function runPhone(msisdnArg: string | undefined, o: PhoneOptions): Promise<number> {
  const say = (text: string) => o.output.write(`${text}\n`);
  const msisdn = msisdnDigits(msisdnArg ?? '');
  if (!msisdn) {
    say('usage: dialpay phone <msisdn with country code, such as +254700000123> [--phone-line host:port]');
    return EXIT_USAGE;
  }
  const base = `http://${o.line}`;
  const operator = await lineOperator(o.line, msisdn, say);
  if (typeof operator === 'number') return operator;
  const shortCode = operator.shortCodes[0] as string;
  say(`+${msisdn} on ${operator.name}. Short code ${shortCode}${operator.ussdCodes.length ? `, USSD ${operator.ussdCodes.join(' ')}` : ''}.`
    + (operator.linked ? '' : ' (The gateway is not linked to this operator yet: SMS may be refused for a moment.)'));
  say(HELP.trimEnd());

  const hangUp = new AbortController();
  const inbox = listenInbox(`${base}/phones/${msisdn}/inbox`, hangUp.signal, (sms) => say(`[SMS from ${sms.from}] ${sms.text}`), () =>
    say('[the phone line closed: no more SMS will arrive here; /quit and start the phone again once operator-sim is back]'));
  await inbox.attached;
  say('ready');

  let ussdOpen = false;
  const post = async (what: 'sms' | 'ussd', body: Record<string, unknown>): Promise<unknown> =>
    postJson(`${base}/phones/${msisdn}/${what}`, body);
  const showScreen = (reply: UssdReply) => {
    ussdOpen = !reply.end;
    for (const line of reply.text.split('\n')) say(`| ${line}`);
    say(reply.end ? '+-- (session ended)' : '+-- (answer, or /cancel)');
  };

  const lines = createInterface({ input: o.input, terminal: false });
  let quit = false;
  for await (const raw of lines) {
    const line = raw.trim();
    if (line === '') continue;
    try {
      if (line === '/quit') {
        quit = true;
        break;
      }
      if (line === '/help') say(HELP.trimEnd());
      else if (line === '/cancel') {
        if (ussdOpen) await post('ussd', { release: true });
        ussdOpen = false;
        say('+-- (cancelled)');
      } else if (/^\*[0-9*]+#$/.test(line)) showScreen((await post('ussd', { dial: line })) as UssdReply);
      else if (ussdOpen) showScreen((await post('ussd', { answer: line })) as UssdReply);
      else {
        const to = /^(\d{3,15}):\s*(.+)$/.exec(line);
        const { status } = (await post('sms', { to: to ? to[1] : shortCode, text: to ? to[2] : line })) as { status: number };
        say(status === 0 ? `[sent to ${to ? to[1] : shortCode}]` : `[not sent: the network answered 0x${status.toString(16)}]`);
      }
    } catch (err) {
      say(`[error] ${(err as Error).message}`);
      if (/no USSD session/.test((err as Error).message)) ussdOpen = false;
    }
  }
  // Input over (Ctrl-D, or the end of a piped script): give the network a moment to answer the last message.
  if (!quit) await new Promise((r) => setTimeout(r, LINGER_AFTER_INPUT_MS));
  hangUp.abort();
  await inbox.closed;
  say('hung up');
  return 0;
}

function listenInbox(
  url: string, signal: AbortSignal, onSms: (sms: { from: string; text: string }) => void, onLost: () => void,
): { attached: Promise<void>; closed: Promise<void> } {
  let attachedResolve!: () => void;
  let attachedReject!: (err: Error) => void;
  const attached = new Promise<void>((resolve, reject) => {
    attachedResolve = resolve;
    attachedReject = reject;
  });
  let wasAttached = false;
  const closed = (async () => {
    try {
      const res = await fetch(url, { signal });
      if (!res.ok || !res.body) throw new Error(`${res.status} ${await res.text()}`);
      attachedResolve();
      wasAttached = true;
      const decoder = new TextDecoder();
      let pending = '';
      for await (const chunk of res.body) {
        pending += decoder.decode(chunk as Uint8Array, { stream: true });
        let at: number;
        while ((at = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, at);
          pending = pending.slice(at + 1);
          if (line) onSms(JSON.parse(line) as { from: string; text: string });
        }
      }
      if (!signal.aborted) onLost();
    } catch (err) {
      if (signal.aborted) return;
      if (wasAttached) onLost();
      else attachedReject(err as Error);
    }
  })();
  return { attached, closed };
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  return answer(res);
}

async function postJson(url: string, body: unknown): Promise<unknown> {
  const res = await fetch(url, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  return answer(res);
}

async function answer(res: Response): Promise<unknown> {
  const body = (await res.json()) as { error?: string };
  if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`);
  return body;
}
