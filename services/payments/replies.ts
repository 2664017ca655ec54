// What subscribers read, in English and French. Every reply fits one SMS
// where it can; amounts are formatted for the subscriber's language.
import type { Language } from '../../runtime/language.js';

type Args = Record<string, string>;
const T = {
  help: {
    en: () => 'dialpay: PAY <shop> <amount> [ref] | SEND <number> <amount> | AIRTIME <amount> [number] | WITHDRAW <agent> <amount> | BAL | '
      + 'LANG FR | STOP. Confirm: YES <code>',
    fr: () => 'dialpay: PAYER <boutique> <montant> [ref] | ENVOYER <numero> <montant> | CREDIT <montant> [numero] | '
      + 'RETRAIT <agent> <montant> | SOLDE | LANGUE EN | STOP. Confirmez: OUI <code>',
  },
  // Agents (cash.ts): what an agent's line reads, and what a subscriber reads about an agent.
  helpAgent: {
    en: () => 'dialpay agent: DEP <number> <amount> deposits cash to a wallet from your float; confirm with your PIN. '
      + 'BAL | LANG FR | STOP.',
    fr: () => 'dialpay agent: DEPOT <numero> <montant> depose sur un portefeuille depuis votre float; confirmez avec votre PIN. '
      + 'SOLDE | LANGUE EN | STOP.',
  },
  challengeCashIn: {
    en: (a) => `Deposit ${a.amount} from your float to ${a.payee}? Reply with your PIN within ${a.minutes} min.`,
    fr: (a) => `Deposer ${a.amount} de votre float pour ${a.payee} ? Repondez avec votre PIN sous ${a.minutes} min.`,
  },
  challengeCashOutCode: {
    en: (a) => `Withdraw ${a.amount} cash at ${a.agent}? Fee ${a.fee}: ${a.total} from your dialpay wallet. `
      + `Reply YES ${a.code} within ${a.minutes} min. Not you? Ignore this SMS.`,
    fr: (a) => `Retirer ${a.amount} chez ${a.agent} ? Frais ${a.fee}: ${a.total} de votre portefeuille dialpay. `
      + `Repondez OUI ${a.code} sous ${a.minutes} min. Pas vous ? Ignorez ce SMS.`,
  },
  challengeCashOutPin: {
    en: (a) => `Withdraw ${a.amount} cash at ${a.agent}? Fee ${a.fee}: ${a.total} from your dialpay wallet. `
      + `Reply with your PIN within ${a.minutes} min.`,
    fr: (a) => `Retirer ${a.amount} chez ${a.agent} ? Frais ${a.fee}: ${a.total} de votre portefeuille dialpay. `
      + `Repondez avec votre PIN sous ${a.minutes} min.`,
  },
  receiptCashInAgent: {
    en: (a) => `Deposit of ${a.amount} to ${a.payee} done. Ref ${a.paymentRef}.`,
    fr: (a) => `Depot de ${a.amount} pour ${a.payee} effectue. Ref ${a.paymentRef}.`,
  },
  receiptCashInPayee: {
    en: (a) => `You received ${a.amount} from agent ${a.agent}. Ref ${a.paymentRef}. It is in your dialpay wallet: send BAL to see it.`,
    fr: (a) => `Vous avez recu ${a.amount} de l agent ${a.agent}. Ref ${a.paymentRef}. Il est dans votre portefeuille dialpay: `
      + `envoyez SOLDE.`,
  },
  creditReceived: {
    en: (a) => `You received ${a.amount} from ${a.from}. Ref ${a.ref}. It is in your dialpay wallet: send BAL to see it.`,
    fr: (a) => `Vous avez recu ${a.amount} de ${a.from}. Ref ${a.ref}. Il est dans votre portefeuille dialpay: envoyez SOLDE.`,
  },
  receiptCashOutPayer: {
    en: (a) => `Withdrawn ${a.amount} at ${a.agent}. Fee ${a.fee}. Ref ${a.paymentRef}. Collect your cash from the agent.`,
    fr: (a) => `Retrait de ${a.amount} chez ${a.agent}. Frais ${a.fee}. Ref ${a.paymentRef}. Recuperez votre argent aupres de l agent.`,
  },
  receiptCashOutAgent: {
    en: (a) => `Cash-out: give ${a.amount} cash to ${a.payer}. Ref ${a.paymentRef}. Your float received ${a.amount}.`,
    fr: (a) => `Retrait: remettez ${a.amount} en especes a ${a.payer}. Ref ${a.paymentRef}. Votre float a recu ${a.amount}.`,
  },
  cashInFailed: {
    en: (a) => `Deposit of ${a.amount} to ${a.payee} failed: ${a.why}. Nothing was moved.`,
    fr: (a) => `Depot de ${a.amount} pour ${a.payee} echoue: ${a.why}. Rien n a ete deplace.`,
  },
  challengeCode: {
    en: (a) => `Pay ${a.amount} to ${a.payee}${a.reference ? ` ref ${a.reference}` : ''}? `
      + `Fee ${a.fee}.${a.source ? ` ${a.source}` : ''} Reply YES ${a.code} within ${a.minutes} min. Not you? Ignore this SMS.`,
    fr: (a) => `Payer ${a.amount} a ${a.payee}${a.reference ? ` ref ${a.reference}` : ''} ? `
      + `Frais ${a.fee}.${a.source ? ` ${a.source}` : ''} Repondez OUI ${a.code} sous ${a.minutes} min. Pas vous ? Ignorez ce SMS.`,
  },
  challengePin: {
    en: (a) => `Pay ${a.amount} to ${a.payee}? Fee ${a.fee}.${a.source ? ` ${a.source}` : ''} Reply with your PIN within ${a.minutes} min.`,
    fr: (a) => `Payer ${a.amount} a ${a.payee} ? Frais ${a.fee}.${a.source ? ` ${a.source}` : ''} `
      + `Repondez avec votre code PIN sous ${a.minutes} min.`,
  },
  retry: {
    en: (a) => `Wrong code. ${a.left} attempt(s) left.`,
    fr: (a) => `Code incorrect. ${a.left} essai(s) restant(s).`,
  },
  codesLocked: {
    en: (a) => `Too many wrong codes. For your safety, confirmations by code are paused for ${a.minutes} min. `
      + `Send STOP to cancel waiting payments.`,
    fr: (a) => `Trop de codes incorrects. Par securite, les confirmations par code sont suspendues ${a.minutes} min. `
      + `Envoyez STOP pour annuler les paiements en attente.`,
  },
  authorized: {
    en: (a) => `Authorised up to ${a.amount} for ${a.payee}. You pay only what is used; a receipt follows.`,
    fr: (a) => `Autorise jusqu a ${a.amount} pour ${a.payee}. Vous payez seulement ce qui est utilise; un recu suivra.`,
  },
  mandateAsk: {
    en: (a) => `${a.payee} asks to charge you up to ${a.cap} per ${a.period}${a.reference ? ` (${a.reference})` : ''}. `
      + `Reply YES ${a.code} within ${a.minutes} min to allow. STOP cancels it any time.`,
    fr: (a) => `${a.payee} demande a vous debiter jusqu a ${a.cap} par ${a.period}${a.reference ? ` (${a.reference})` : ''}. `
      + `Repondez OUI ${a.code} sous ${a.minutes} min pour accepter. STOP l annule a tout moment.`,
  },
  mandateActive: {
    en: (a) => `Allowed: ${a.payee} may charge you up to ${a.cap} per ${a.period}. You get a receipt each time. Send STOP to cancel.`,
    fr: (a) => `Accepte: ${a.payee} peut vous debiter jusqu a ${a.cap} par ${a.period}. Un recu a chaque fois. Envoyez STOP pour annuler.`,
  },
  mandateDeclined: {
    en: () => 'Wrong code 3 times: the request to charge you was declined.',
    fr: () => 'Code incorrect 3 fois: la demande de debit est refusee.',
  },
  mandatesRevoked: {
    en: (a) => `${a.count} standing permission(s) to charge you cancelled.`, fr: (a) => `${a.count} autorisation(s) de debit annulee(s).`,
  },
  severalWaiting: {
    en: (a) => `${a.count} payments wait for your PIN, and a PIN cannot say which one. Send STOP to cancel all waiting payments, `
      + `then pay again.`,
    fr: (a) => `${a.count} paiements attendent votre PIN, et un PIN ne dit pas lequel. `
      + `Envoyez STOP pour annuler tous les paiements en attente, puis payez a nouveau.`,
  },
  refunded: {
    en: (a) => `Refund: ${a.amount} back from ${a.payee} for payment ${a.paymentRef}.${a.wallet ? ' It is in your dialpay wallet.' : ''}`,
    fr: (a) => `Remboursement: ${a.amount} rendu par ${a.payee} pour le paiement ${a.paymentRef}.`
      + `${a.wallet ? ' Il est dans votre portefeuille dialpay.' : ''}`,
  },
  receiptPayer: {
    en: (a) => `Paid ${a.amount} to ${a.payee}. Fee ${a.fee}. Ref ${a.paymentRef}.`,
    fr: (a) => `Paye ${a.amount} a ${a.payee}. Frais ${a.fee}. Ref ${a.paymentRef}.`,
  },
  receiptPayee: {
    en: (a) => `Received ${a.amount} from ${a.payer}. Ref ${a.paymentRef}. It is in your dialpay wallet: send BAL to see it.`,
    fr: (a) => `Recu ${a.amount} de ${a.payer}. Ref ${a.paymentRef}. Il est dans votre portefeuille dialpay: envoyez SOLDE pour le voir.`,
  },
  noPendingPayment: {
    en: () => 'No payment is waiting for your confirmation.',
    fr: () => 'Aucun paiement en attente de confirmation.',
  },
  noPinPending: {
    en: () => 'No payment is waiting for your PIN. To confirm with a code, reply YES <code>.',
    fr: () => 'Aucun paiement n attend votre PIN. Pour confirmer avec un code, repondez OUI <code>.',
  },
  balance: {
    en: (a) => `Balance: ${a.balance}.${a.lines ? ` Last: ${a.lines}` : ''}`,
    fr: (a) => `Solde: ${a.balance}.${a.lines ? ` Derniers: ${a.lines}` : ''}`,
  },
  balances: {
    en: (a) => `Balance: dialpay wallet ${a.wallet}, ${a.operator} ${a.balance}.${a.lines ? ` Last: ${a.lines}` : ''}`,
    fr: (a) => `Solde: portefeuille dialpay ${a.wallet}, ${a.operator} ${a.balance}.${a.lines ? ` Derniers: ${a.lines}` : ''}`,
  },
  balancesNoCarrier: {
    en: (a) => `Balance: dialpay wallet ${a.wallet}; ${a.operator} balance not available right now.${a.lines ? ` Last: ${a.lines}` : ''}`,
    fr: (a) => `Solde: portefeuille dialpay ${a.wallet}; `
      + `solde ${a.operator} indisponible pour le moment.${a.lines ? ` Derniers: ${a.lines}` : ''}`,
  },
  balanceUnavailable: {
    en: () => 'Your balance is not available right now. Please try again in a few minutes.',
    fr: () => 'Votre solde n est pas disponible pour le moment. Reessayez dans quelques minutes.',
  },
  languageSet: { en: () => 'Language set to English.', fr: () => 'Langue: francais.' },
  stopped: {
    en: () => 'STOP received: pending payments cancelled, no further charges. Send HELP for help.',
    fr: () => 'STOP recu: paiements en attente annules, aucun autre debit. Envoyez AIDE pour l aide.',
  },
  pinReset: {
    en: (a) => `Customer care has reset your dialpay PIN. Dial ${a.ussd} to choose a new one. Did not ask for this? Call customer care.`,
    fr: (a) => `Le service client a reinitialise votre PIN dialpay. Composez ${a.ussd} pour en choisir un nouveau. Pas vous? `
      + `Appelez le service client.`,
  },
  // A risk hold (holds.ts): `why` is the rule's phrase. Never a challenge: nothing to answer.
  held: {
    en: (a) => `Your payment of ${a.amount} to ${a.payee} is on hold for your protection (${a.why}). Nothing was charged. `
      + `Customer care will contact you, or call them and quote case ${a.caseId}.`,
    fr: (a) => `Votre paiement de ${a.amount} a ${a.payee} est en attente pour votre protection (${a.why}). Rien n a ete debite. `
      + `Le service client va vous contacter, ou appelez-le en citant le dossier ${a.caseId}.`,
  },
} as const satisfies Record<string, Readonly<Record<Language, (a: Args) => string>>>;

export function reply(key: keyof typeof T, language: Language, args: Args = {}): string {
  const template = T[key];
  if (!template) throw new Error(`no reply template ${String(key)}`);
  return template[language](args);
}
