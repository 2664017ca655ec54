// Operator-to-operator netting, pure: from the day's inter-operator positions
// (payer's operator owes payee's operator, summed per direction and currency)
// to one line per pair of operators and currency: what each owes the other and
// the net, which only one of them pays. No rounding: positions are whole minor
// units, so the lines always add up to the positions.

export interface PositionTotal {
  /** Owes `amountMinor`... */
  readonly payerOperatorId: string;
  /** ...to this operator. */
  readonly payeeOperatorId: string;
  readonly currency: string;
  readonly transfers: number;
  readonly amountMinor: bigint;
}

export interface PairLine {
  /** The pair in a fixed order (A before B by id), whatever the direction of the money. */
  readonly operatorA: string;
  readonly operatorB: string;
  readonly currency: string;
  readonly transfersAToB: number;
  /** Transfers from A's subscribers to B's: A owes B this. */
  readonly aOwesBMinor: bigint;
  readonly transfersBToA: number;
  readonly bOwesAMinor: bigint;
  /** aOwesB - bOwesA: positive, A pays B; negative, B pays A. */
  readonly netAOwesBMinor: bigint;
  /** Who pays the net, who receives it, and how much (never negative; zero when they cancel out). */
  readonly debtor: string;
  readonly creditor: string;
  readonly netMinor: bigint;
}

export class InteropArithmeticError extends Error {
  override readonly name = 'InteropArithmeticError';
}

export function netPositions(totals: Iterable<PositionTotal>): PairLine[] {
  const pairs = new Map<string, { a: string; b: string; currency: string; ab: bigint; abN: number; ba: bigint; baN: number }>();
  for (const t of totals) {
    if (t.payerOperatorId === t.payeeOperatorId) throw new InteropArithmeticError(`a position of ${t.payerOperatorId} with itself`);
    if (t.amountMinor < 0n || t.transfers < 0) {
      throw new InteropArithmeticError(`a negative position from ${t.payerOperatorId} to ${t.payeeOperatorId}`);
    }
    const [a, b] = t.payerOperatorId < t.payeeOperatorId ? [t.payerOperatorId, t.payeeOperatorId] : [t.payeeOperatorId, t.payerOperatorId];
    const key = JSON.stringify([a, b, t.currency]);
    const pair = pairs.get(key) ?? { a, b, currency: t.currency, ab: 0n, abN: 0, ba: 0n, baN: 0 };
    if (t.payerOperatorId === a) {
      pair.ab += t.amountMinor;
      pair.abN += t.transfers;
    } else {
      pair.ba += t.amountMinor;
      pair.baN += t.transfers;
    }
    pairs.set(key, pair);
  }
  return [...pairs.values()]
    .sort((x, y) => compare(x.a, y.a) || compare(x.b, y.b) || compare(x.currency, y.currency))
    .map((p) => {
      const net = p.ab - p.ba;
      return {
        operatorA: p.a, operatorB: p.b, currency: p.currency,
        transfersAToB: p.abN, aOwesBMinor: p.ab, transfersBToA: p.baN, bOwesAMinor: p.ba,
        netAOwesBMinor: net, debtor: net >= 0n ? p.a : p.b, creditor: net >= 0n ? p.b : p.a, netMinor: net >= 0n ? net : -net,
      };
    });
}

function compare(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The day's lines as CSV, one pair and currency a line, amounts in minor units (the header names them). */
export function interopCsv(windowId: string, lines: readonly PairLine[]): string {
  const header = 'window,operator_a,operator_b,currency,transfers_a_to_b,a_owes_b_minor,transfers_b_to_a,b_owes_a_minor,'
    + 'net_a_owes_b_minor,debtor,creditor,net_minor';
  const rows = lines.map((l) =>
    [windowId, l.operatorA, l.operatorB, l.currency, l.transfersAToB, l.aOwesBMinor, l.transfersBToA, l.bOwesAMinor, l.netAOwesBMinor,
      l.debtor, l.creditor, l.netMinor].join(','));
  return `${[header, ...rows].join('\n')}\n`;
}
