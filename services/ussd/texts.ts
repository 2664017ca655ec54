// What the menus say, in English and French. Plain GSM 03.38 text only (no
// accents outside the default alphabet), so every screen is one USSD
// message; screens.test.ts proves each one fits 182 characters.
import type { Funding } from '../../proto/index.js';
import type { Language } from '../../runtime/language.js';
import { septetLength } from './screens.js';

type Args = Readonly<Record<string, string>>;

const T = {
  main: {
    en: () => 'dialpay\n1 Pay merchant\n2 Send money\n3 Buy airtime\n4 My account\n5 Withdraw cash',
    fr: () => 'dialpay\n1 Payer un marchand\n2 Envoyer de l argent\n3 Acheter du credit\n4 Mon compte\n5 Retirer de l argent',
  },
  // The line dialling is an active agent's (issue 16): deposits from its float, and the float's balance.
  mainAgent: {
    en: () => 'dialpay agent\n1 Pay merchant\n2 Send money\n3 Buy airtime\n4 My account\n5 Withdraw cash'
      + '\n6 Deposit to a wallet\n7 Float balance',
    fr: () => 'dialpay agent\n1 Payer un marchand\n2 Envoyer de l argent\n3 Acheter du credit\n4 Mon compte\n5 Retirer de l argent'
      + '\n6 Depot client\n7 Solde du float',
  },
  choosePin: {
    en: () => 'Welcome to dialpay. Choose a 4-digit PIN to protect your payments:',
    fr: () => 'Bienvenue sur dialpay. Choisissez un PIN a 4 chiffres pour proteger vos paiements:',
  },
  repeatPin: { en: () => 'Enter the same PIN again:', fr: () => 'Entrez le meme PIN encore une fois:' },
  pinSaved: { en: () => 'PIN saved.', fr: () => 'PIN enregistre.' },
  pinsDiffer: {
    en: () => 'The PINs did not match. Choose a 4-digit PIN:',
    fr: () => 'Les PIN ne correspondent pas. Choisissez un PIN a 4 chiffres:',
  },
  pinWeak: {
    en: () => 'That PIN is too easy to guess. Choose another 4-digit PIN:',
    fr: () => 'Ce PIN est trop facile. Choisissez un autre PIN a 4 chiffres:',
  },
  agentNumber: { en: () => 'Enter the agent number:', fr: () => 'Entrez le numero de l agent:' },
  merchantCode: { en: () => 'Enter the merchant code:', fr: () => 'Entrez le code du marchand:' },
  phoneNumber: { en: () => 'Enter the phone number:', fr: () => 'Entrez le numero de telephone:' },
  amount: { en: (a: Args) => `Enter the amount (${a.currency}):`, fr: (a: Args) => `Entrez le montant (${a.currency}):` },
  reference: { en: () => 'Enter a reference, or 0 for none:', fr: () => 'Entrez une reference, ou 0 pour aucune:' },
  airtimeFor: {
    en: () => 'Buy airtime for:\n1 My number\n2 Another number',
    fr: () => 'Acheter du credit pour:\n1 Mon numero\n2 Un autre numero',
  },
  airtimeUnavailable: {
    en: () => 'Airtime is not sold here on your network.',
    fr: () => 'Le credit n est pas vendu ici sur votre reseau.',
  },
  enterPin: { en: () => 'Enter your PIN:', fr: () => 'Entrez votre PIN:' },
  wrongPin: {
    en: (a: Args) => `Wrong PIN, ${a.left} tries left.\nEnter your PIN:`,
    fr: (a: Args) => `PIN incorrect, ${a.left} essais restants.\nEntrez votre PIN:`,
  },
  confirm: {
    en: (a: Args) => `${a.what} ${a.amount} to ${a.payee}\nFee ${a.fee}${a.reference ? `\nRef ${a.reference}` : ''}`
      + `${a.source ? `\n${a.source}` : ''}\n1 Confirm\n2 Cancel`,
    fr: (a: Args) => `${a.what} ${a.amount} a ${a.payee}\nFrais ${a.fee}${a.reference ? `\nRef ${a.reference}` : ''}`
      + `${a.source ? `\n${a.source}` : ''}\n1 Confirmer\n2 Annuler`,
  },
  // A cash-out's confirmation (cashConfirmText fits the agent's name in): the cash, the fee on top, what leaves the wallet.
  confirmCashOut: {
    en: (a: Args) => `Withdraw ${a.amount} at ${a.payee}\nFee ${a.fee}\nTotal from wallet ${a.total}\n1 Confirm\n2 Cancel`,
    fr: (a: Args) => `Retirer ${a.amount} chez ${a.payee}\nFrais ${a.fee}\nTotal portefeuille ${a.total}\n1 Confirmer\n2 Annuler`,
  },
  // An agent's deposit: the float pays, the number's wallet receives.
  confirmCashIn: {
    en: (a: Args) => `Deposit ${a.amount} to ${a.payee}\nFrom your float\n1 Confirm\n2 Cancel`,
    fr: (a: Args) => `Deposer ${a.amount} pour ${a.payee}\nDepuis votre float\n1 Confirmer\n2 Annuler`,
  },
  floatBalance: { en: (a: Args) => `Your float: ${a.balance}`, fr: (a: Args) => `Votre float: ${a.balance}` },
  // Where the money will come from, on the confirmation screen (confirmText fits it in).
  fromWallet: { en: () => 'From your dialpay wallet', fr: () => 'Depuis votre portefeuille dialpay' },
  fromCarrier: { en: (a: Args) => `Charged to your ${a.operator} account`, fr: (a: Args) => `Debite sur votre compte ${a.operator}` },
  submitted: {
    en: () => 'Payment submitted. You will get an SMS with the result.',
    fr: () => 'Paiement envoye. Vous recevrez un SMS avec le resultat.',
  },
  cancelled: { en: () => 'Cancelled. Nothing was charged.', fr: () => 'Annule. Rien n a ete debite.' },
  account: {
    en: () => 'My account\n1 Balance\n2 Mini statement\n3 Change PIN\n4 Language',
    fr: () => 'Mon compte\n1 Solde\n2 Mini releve\n3 Changer le PIN\n4 Langue',
  },
  balance: { en: (a: Args) => `Balance: ${a.balance}`, fr: (a: Args) => `Solde: ${a.balance}` },
  // A carrier-billed operator: the dialpay wallet beside the carrier account.
  balances: {
    en: (a: Args) => `Balance:\ndialpay wallet ${a.wallet}\n${a.operator} ${a.balance}`,
    fr: (a: Args) => `Solde:\nportefeuille dialpay ${a.wallet}\n${a.operator} ${a.balance}`,
  },
  notNow: { en: () => 'not available now', fr: () => 'indisponible' },
  statement: { en: (a: Args) => `Last movements:\n${a.lines}`, fr: (a: Args) => `Derniers mouvements:\n${a.lines}` },
  noStatement: { en: () => 'No payments yet.', fr: () => 'Aucun paiement pour le moment.' },
  currentPin: { en: () => 'Enter your current PIN:', fr: () => 'Entrez votre PIN actuel:' },
  newPin: { en: () => 'Enter your new 4-digit PIN:', fr: () => 'Entrez votre nouveau PIN a 4 chiffres:' },
  repeatNewPin: { en: () => 'Enter the new PIN again:', fr: () => 'Entrez le nouveau PIN encore une fois:' },
  pinChanged: { en: () => 'PIN changed.', fr: () => 'PIN modifie.' },
  newPinsDiffer: {
    en: () => 'The new PINs did not match. Nothing changed.',
    fr: () => 'Les nouveaux PIN ne correspondent pas. Rien n a change.',
  },
  newPinWeak: { en: () => 'That PIN is too easy to guess. Nothing changed.', fr: () => 'Ce PIN est trop facile. Rien n a change.' },
  wrongPinEnd: { en: (a: Args) => `Wrong PIN. ${a.left} tries left.`, fr: (a: Args) => `PIN incorrect. ${a.left} essais restants.` },
  pinLocked: {
    en: () => 'Your PIN is locked after too many wrong tries. Please contact customer care.',
    fr: () => 'Votre PIN est bloque apres trop d essais. Contactez le service client.',
  },
  language: { en: () => 'Language\n1 English\n2 Francais', fr: () => 'Langue\n1 English\n2 Francais' },
  languageSet: { en: () => 'Language set to English.', fr: () => 'Langue: francais.' },
  unavailable: { en: () => 'Service unavailable, please try again later.', fr: () => 'Service indisponible, reessayez plus tard.' },
  // The confirmation's answer did not come in time: payments may have it and be paying, so no "try again".
  confirmUnsure: {
    en: () => 'We could not confirm in time. You will get an SMS with the result; do not repeat the payment before then.',
    fr: () => 'Nous n avons pas pu confirmer a temps. Vous recevrez un SMS avec le resultat; ne refaites pas le paiement avant.',
  },
  sessionLost: { en: () => 'Your session has ended. Please dial again.', fr: () => 'Votre session est terminee. Composez a nouveau.' },
  unknownService: { en: () => 'Unknown service code.', fr: () => 'Code de service inconnu.' },
  more: { en: () => '00 More', fr: () => '00 Suite' },
  // Error lines, shown above a screen re-shown after an answer it cannot take.
  invalidChoice: { en: () => 'Invalid choice.', fr: () => 'Choix invalide.' },
  invalidAgent: { en: () => 'An agent number is like AG1001.', fr: () => 'Un numero d agent est comme AG1001.' },
  invalidMerchant: { en: () => 'Unknown merchant code.', fr: () => 'Code marchand inconnu.' },
  invalidAmount: { en: () => 'Enter an amount like 150 or 5.50.', fr: () => 'Entrez un montant comme 150 ou 5,50.' },
  invalidNumber: { en: () => 'Enter a number like 0712345678.', fr: () => 'Entrez un numero comme 0712345678.' },
  unreachableNumber: {
    en: () => 'dialpay cannot send to that number. Enter another.',
    fr: () => 'dialpay ne peut pas envoyer a ce numero. Entrez-en un autre.',
  },
  invalidPin: { en: () => 'A PIN is 4 digits.', fr: () => 'Un PIN a 4 chiffres.' },
  invalidReference: { en: () => 'Use up to 20 letters or digits.', fr: () => 'Jusqu a 20 lettres ou chiffres.' },
  verbPay: { en: () => 'Pay', fr: () => 'Payer' },
  verbSend: { en: () => 'Send', fr: () => 'Envoyer' },
  verbAirtime: { en: () => 'Airtime', fr: () => 'Credit' },
} as const satisfies Record<string, Record<Language, (a: Args) => string>>;

export type TextKey = keyof typeof T;

export function text(key: TextKey, language: Language, args: Args = {}): string {
  return T[key][language](args);
}

export const TEXT_KEYS = Object.keys(T) as TextKey[];

/** Operator names longer than this are cut on the confirmation screen. */
const OPERATOR_NAME_SHOWN_MAX = 20;

/**
 * The confirmation screen with its source line ("from your dialpay wallet", "charged to your
 * <operator> account"). A long payee name gives way (its merchant code is kept) so that the
 * screen, with an error line above it, is still one message of `septetsMax`.
 */
export function confirmText(language: Language, args: Args, funding: Funding | null, operatorName: string, septetsMax: number): string {
  const source = funding === 'wallet' ? text('fromWallet', language)
    : funding === 'carrier' ? text('fromCarrier', language, { operator: operatorName.slice(0, OPERATOR_NAME_SHOWN_MAX) }) : '';
  return fitPayee(language, args.payee ?? '', (payee) => text('confirm', language, { ...args, payee, source }), septetsMax);
}

/** A cash-out's confirmation (the agent "Name (AG1001)" giving way as a merchant's would) or a cash-in's (the number, short). */
export function cashConfirmText(language: Language, kind: 'cash-out' | 'cash-in', args: Args, septetsMax: number): string {
  const textKey = kind === 'cash-out' ? 'confirmCashOut' : 'confirmCashIn';
  return fitPayee(language, args.payee ?? '', (payee) => text(textKey, language, { ...args, payee }), septetsMax);
}

/** `render(payee)`, the payee's name cut (its code in brackets kept) until it fits with an error line above. */
function fitPayee(language: Language, payee: string, render: (payee: string) => string, septetsMax: number): string {
  const budget = septetsMax - septetLength(`${text('invalidChoice', language)}\n`);
  const over = septetLength(render(payee)) - budget;
  if (over <= 0) return render(payee);
  const [, name = payee, code = ''] = /^(.*?)((?: \([^)]*\))?)$/.exec(payee) ?? [];
  return render(`${[...name].slice(0, Math.max(1, [...name].length - over - 1)).join('')}.${code}`);
}
