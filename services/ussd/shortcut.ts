// Shortcut dials: `*384*1*SHOP42#` is `*384#` followed by the answers 1 and
// SHOP42, typed ahead. Pure: the ussd service applies them once the menu's
// home screen is the main menu (a first dial must choose a PIN first).

/** Answers a shortcut may carry; a longer dial is taken as the plain code. */
export const SHORTCUT_ANSWERS_MAX = 8;

/** The answers typed ahead in `dialled` after one of `serviceCodes`, or [] when it is the plain code or none of ours. */
export function shortcutAnswers(dialled: string, serviceCodes: readonly string[]): string[] {
  if (!/^\*[0-9A-Za-z*]+#$/.test(dialled)) return [];
  for (const code of serviceCodes) {
    const base = code.slice(0, -1); // "*384"
    if (dialled === code || !dialled.startsWith(`${base}*`)) continue;
    const parts = dialled.slice(base.length + 1, -1).split('*');
    if (parts.length > SHORTCUT_ANSWERS_MAX || parts.some((p) => p === '')) return [];
    return parts;
  }
  return [];
}
