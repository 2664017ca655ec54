// What the USSD edges themselves say to a subscriber, when the menu is not
// asked: in the operator's default language, plain GSM 03.38 text.
import type { Language } from '../../runtime/language.js';

const EDGE_TEXTS = {
  /** The ussd service did not answer in time. */
  unavailable: {
    en: 'Service unavailable, please try again later.',
    fr: 'Service indisponible, reessayez plus tard.',
  },
  /** The number is not one of the operator's the request came through. */
  foreignNumber: {
    en: 'This number is not on this network, so it cannot use this service here.',
    fr: 'Ce numero n est pas sur ce reseau, il ne peut pas utiliser ce service ici.',
  },
} as const satisfies Record<string, Record<Language, string>>;

export type EdgeTextKey = keyof typeof EDGE_TEXTS;

export function edgeText(key: EdgeTextKey, language: Language): string {
  return EDGE_TEXTS[key][language];
}
