// Secrets inside an outbound text (SmsOutbound.secret_spans): the service that
// writes a one-time code marks where it put it, and whoever keeps or shows the
// text masks those spans. Nobody guesses secrets from the wording, so a reworded
// template cannot leak a code. Spans count UTF-16 code units, as strings index.

/** A run of a text: start and length in UTF-16 code units. */
export interface TextSpan {
  readonly start: number;
  readonly length: number;
}

/** A text and the spans of it that are secrets. */
export interface SecretText {
  readonly text: string;
  readonly secretSpans: readonly TextSpan[];
}

/** What a masked secret reads as: the same for every length, so the mask tells nothing. */
export const SECRET_MASK = '****';

// Private-use code points that no template writes: a secret's place while the text is rendered.
const SLOT_OPEN = '\uE000';
const SLOT_CLOSE = '\uE001';
const SLOT = new RegExp(`${SLOT_OPEN}(\\d+)${SLOT_CLOSE}`, 'g');

/**
 * Renders a text whose renderer marks its secrets: `render` gets `secret`, to wrap each secret where
 * it writes it (a template's argument). Answers the text with the secrets in place and their spans.
 * Throws when the rendering altered a mark (cut a text short in the middle of one): unmarked secrets
 * must not go out.
 */
export function markSecrets(render: (secret: (value: string) => string) => string): SecretText {
  const values: string[] = [];
  const rendered = render((value) => `${SLOT_OPEN}${values.push(value) - 1}${SLOT_CLOSE}`);
  const secretSpans: TextSpan[] = [];
  let text = '';
  let from = 0;
  for (const slot of rendered.matchAll(SLOT)) {
    text += rendered.slice(from, slot.index);
    const value = values[Number(slot[1])] ?? '';
    if (value.length > 0) secretSpans.push({ start: text.length, length: value.length });
    text += value;
    from = slot.index + slot[0].length;
  }
  text += rendered.slice(from);
  if (text.includes(SLOT_OPEN) || text.includes(SLOT_CLOSE)) throw new Error('a secret\'s mark was altered while its text was rendered');
  return { text, secretSpans };
}

/** A span as the decoder gives it (proto3: absent fields are 0). */
type SpanLike = { readonly start?: number | null; readonly length?: number | null };

/**
 * The text with every secret span replaced by SECRET_MASK, and the masks' spans. Overlapping spans
 * mask as one. A span reaching past the text (a writer's bug: where the secret is, is unknown)
 * masks the whole text.
 */
export function maskSecretSpans(text: string, spans: readonly SpanLike[] | null | undefined): SecretText {
  const runs = (spans ?? []).map((s) => ({ start: s.start ?? 0, end: (s.start ?? 0) + (s.length ?? 0) })).filter((r) => r.end > r.start);
  if (runs.length === 0) return { text, secretSpans: [] };
  if (runs.some((r) => r.end > text.length)) return { text: SECRET_MASK, secretSpans: [{ start: 0, length: SECRET_MASK.length }] };
  runs.sort((a, b) => a.start - b.start);
  const merged: { start: number; end: number }[] = [];
  for (const r of runs) {
    const last = merged[merged.length - 1];
    if (last && r.start <= last.end) last.end = Math.max(last.end, r.end);
    else merged.push({ ...r });
  }
  const masks: TextSpan[] = [];
  let masked = '';
  let from = 0;
  for (const r of merged) {
    masked += text.slice(from, r.start);
    masks.push({ start: masked.length, length: SECRET_MASK.length });
    masked += SECRET_MASK;
    from = r.end;
  }
  return { text: masked + text.slice(from), secretSpans: masks };
}
