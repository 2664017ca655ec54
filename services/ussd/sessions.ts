// USSD sessions in the NATS KV bucket ussd_sessions, so any ussd replica can
// answer any hop. The bucket's TTL forgets abandoned sessions; a record is
// small (the facts its screens learned, and for SMPP dialogues the answers,
// a PIN masked as soon as no later screen needs it: see menu.ts keptAnswers).
import type { KV } from '@nats-io/kv';
import type { Facts } from './walk.js';

export interface SessionRecord {
  readonly operatorId: string;
  readonly msisdn: string;
  /** SMPP edges send only the newest answer; the path is kept here, PINs masked. Null for HTTP (the edge sends the path). */
  readonly answers: readonly string[] | null;
  readonly facts: Facts;
  /** The dialogue's id (MenuContext.dialogueId); absent in records an older release wrote. */
  readonly dialogueId?: string;
}

/** KV keys allow letters, digits and -_=./ only: a session id from an edge may hold anything. */
function keyOf(sessionId: string): string {
  return `s.${Buffer.from(sessionId, 'utf8').toString('base64url')}`;
}

/** Sessions this process answered last, kept to skip a KV read on the next hop. */
const RECENT_SESSIONS_MAX = 20_000;
/** The bucket forgets sessions after 3 minutes; so does this. */
const RECENT_SESSION_TTL_MS = 3 * 60_000;

export class SessionStore {
  readonly #kv: KV;
  /** Insertion order is age order: the first entry is the oldest. */
  readonly #recent = new Map<string, { record: SessionRecord; answers: number; atMs: number }>();

  constructor(kv: KV) {
    this.#kv = kv;
  }

  /**
   * The session as this process saved it, if the hop after that one is the one now asking
   * (`answersBefore` matches). Any other replica answering in between would have added an
   * answer, so a match means the copy is current and the KV read can be skipped.
   */
  recent(sessionId: string, answersBefore: number): SessionRecord | null {
    const entry = this.#recent.get(sessionId);
    if (!entry || entry.answers !== answersBefore || Date.now() - entry.atMs > RECENT_SESSION_TTL_MS) return null;
    return entry.record;
  }

  /** Saves to KV (every replica sees it) and keeps a copy for this process's next hop. */
  async save(sessionId: string, record: SessionRecord, answers: number, changed: boolean): Promise<void> {
    if (changed) await this.put(sessionId, record);
    this.#recent.delete(sessionId);
    this.#recent.set(sessionId, { record, answers, atMs: Date.now() });
    if (this.#recent.size > RECENT_SESSIONS_MAX) this.#recent.delete(this.#recent.keys().next().value as string);
  }

  async get(sessionId: string): Promise<SessionRecord | null> {
    const entry = await this.#kv.get(keyOf(sessionId));
    if (!entry || entry.operation !== 'PUT' || entry.length === 0) return null;
    try {
      return entry.json<SessionRecord>();
    } catch {
      return null; // an unreadable record is a lost session, not a crash
    }
  }

  /** Removes a session at once, every revision of it (a released dialogue), here and in KV. */
  async forget(sessionId: string): Promise<void> {
    this.#recent.delete(sessionId);
    await this.#kv.purge(keyOf(sessionId));
  }

  async put(sessionId: string, record: SessionRecord): Promise<void> {
    await this.#kv.put(keyOf(sessionId), JSON.stringify(record));
  }
}
