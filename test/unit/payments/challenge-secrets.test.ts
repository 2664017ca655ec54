// A challenge's one-time code travels marked (SmsOutbound.secret_spans): the gateway masks by the
// mark, so the dead letter of a challenge holds no code, whatever the wording around it.
import { describe, expect, it } from 'vitest';
import { dialpay, markSecrets } from '../../../proto/index.js';
import { Events, newEnvelope } from '../../../runtime/nats/index.js';
import { codeChallengeText } from '../../../services/payments/challenge.js';
import { reply } from '../../../services/payments/replies.js';
import { smsOutboundBody, timeBound } from '../../../services/payments/sms-options.js';
import { redactCodesForDeadLetter } from '../../../gateway/smpp/outbound.js';

const to = { operatorId: 'safaricom-ke', msisdn: '254712345678', shortCode: '384' };
const args = { amount: '15.00 KES', payee: 'Duka Ya Mama (SHOP42)', fee: '0.30 KES', minutes: '2', reference: 'INV-4821', source: '' };

/** The SmsOutbound payments publishes for a text, through the wire. */
function published(text: Parameters<typeof smsOutboundBody>[2]): dialpay.v1.ISmsOutbound {
  const body = smsOutboundBody('pay-1:challenge-sms', to, text, timeBound(dialpay.v1.SmsKind.SMS_KIND_CHALLENGE, Date.now() + 120_000));
  return Events.smsOutbound.type.decode(Events.smsOutbound.type.encode({ envelope: newEnvelope({ producer: 'test' }), ...body }).finish());
}
const spanned = (m: dialpay.v1.ISmsOutbound) => (m.secretSpans ?? []).map((s) => (m.text ?? '').slice(s.start ?? 0, (s.start ?? 0) + (s.length ?? 0)));

describe("payments' challenges", () => {
  it('the code challenge carries one span, exactly over the code, in both languages', () => {
    for (const lang of ['en', 'fr'] as const) {
      const sms = published(codeChallengeText(lang, args, '4821'));
      expect(sms.text).toContain(lang === 'en' ? 'Reply YES 4821' : 'Repondez OUI 4821');
      // The reference also reads 4821: only the code is marked.
      expect(sms.secretSpans).toHaveLength(1);
      expect(spanned(sms)).toEqual(['4821']);
      const dead = Events.smsOutbound.type.decode(redactCodesForDeadLetter(Events.smsOutbound.type.encode(sms).finish()));
      expect(dead.text).toBe((sms.text ?? '').replace('YES 4821', 'YES ****').replace('OUI 4821', 'OUI ****'));
      expect(dead.text).toContain('INV-4821');
    }
  });

  it('a mandate request and a cash-out challenge mark their code the same way', () => {
    const mandate = published(markSecrets((secret) => reply('mandateAsk', 'en', { payee: 'Duka', cap: '100.00 KES', period: 'month', reference: '', code: secret('7305'), minutes: '2' })));
    expect(spanned(mandate)).toEqual(['7305']);
    const cashOut = published(markSecrets((secret) => reply('challengeCashOutCode', 'fr', { amount: '5', agent: 'Kiosk', fee: '1', total: '6', minutes: '2', code: secret('1998') })));
    expect(spanned(cashOut)).toEqual(['1998']);
  });

  it('a text without a secret carries no span', () => {
    expect(published(reply('help', 'en')).secretSpans).toEqual([]);
  });
});
