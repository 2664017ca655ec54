// The languages subscribers read dialpay in: the config's defaultLanguage, a
// subscriber's choice (LANG, the USSD menu) and every text table are keyed by these.

export const LANGUAGES = ['en', 'fr'] as const;
export type Language = (typeof LANGUAGES)[number];

/** The value when it names a language, else the fallback (a proto string field, a stored choice). */
export function languageOr(value: unknown, fallback: Language): Language {
  return (LANGUAGES as readonly unknown[]).includes(value) ? (value as Language) : fallback;
}
