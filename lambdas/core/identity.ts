/**
 * One identity, one form (DESIGN.md §3, CONVENTIONS.md habit 11). Every identity that enters
 * Countersign — a JWT `sub` (requesters and API approvers), a `slack.users` value, a rule's
 * `approvers` entry, a request's `context.onBehalfOf` — is turned into its normal form where it
 * enters, and identities are only ever compared in that form: self-approval, "one vote per
 * approver", quorum counting, "is this a named approver".
 *
 * The normal form is Unicode NFKC, case-folded, without default-ignorable characters, trimmed:
 * `Alice@Example.com`, `ALICE@example.com`, `alice@example.com ` and `ａｌｉｃｅ@example.com`
 * (full-width) are one person. Case folding is *full* folding, not `toLowerCase`: `ß`/`SS`/`ẞ`,
 * Greek final `ς`/`σ`/`Σ` and Cherokee upper/lower forms compare equal, which lower-casing alone
 * does not give (`'ΟΔΟΣ'.toLowerCase()` ends in `ς`, `'ß'.toLowerCase()` stays `ß`).
 */

/** Zero-width and other characters that display as nothing: they would make one name into many. */
const DEFAULT_IGNORABLE = /\p{Default_Ignorable_Code_Point}/gu;

/**
 * Full case folding of one code point (Unicode CaseFolding.txt, statuses C and F), computed as
 * "lower, upper, lower": every code point whose fold differs from its lower-case form (ß and ẞ →
 * ss, ς → σ, ϐ → β, Cherokee) reaches, through its upper-case form, a string that lower-cases to
 * the fold (or to the same string the fold reaches). Per code point, so the context rule that
 * makes `'ΟΔΟΣ'.toLowerCase()` end in ς does not apply. One correction: dotless ı has no fold
 * (going through upper case would merge it with i, i.e. with a different person's name).
 */
function foldCodePoint(ch: string): string {
  if (ch === '\u0131') return ch;
  return ch.toLowerCase().toUpperCase().toLowerCase();
}

/**
 * The normal form of an identity. Idempotent: `normalizeIdentity(normalizeIdentity(x)) ===
 * normalizeIdentity(x)`, so comparing normalized values from any two edges is always meaningful.
 */
export function normalizeIdentity(identity: string): string {
  const nfkc = identity.normalize('NFKC').replace(DEFAULT_IGNORABLE, '');
  let folded = '';
  for (const ch of nfkc) folded += foldCodePoint(ch);
  // Folding can produce sequences NFKC composes differently (İ → i + U+0307); normalize again.
  return folded.normalize('NFKC').replace(DEFAULT_IGNORABLE, '').trim();
}

/** Whether two identities are the same person, compared in normal form. */
export function sameIdentity(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  return normalizeIdentity(a) === normalizeIdentity(b);
}

// Letters that read as another, common one: a few same-script look-alikes (dotless ı, Latin alpha
// and script g) and the Cyrillic and Greek letters that read as Latin ones. Not Unicode's whole
// confusables table: enough for the names people and IdPs write, used only to refuse more.
const LOOK_ALIKES: Readonly<Record<string, string>> = {
  '\u0131': 'i',
  '\u0251': 'a',
  '\u0261': 'g',
  '\u0269': 'i',
  '\u026a': 'i',
  '\u029f': 'l',
  '\u0430': 'a',
  '\u0432': 'b',
  '\u0435': 'e',
  '\u043a': 'k',
  '\u043c': 'm',
  '\u043d': 'h',
  '\u043e': 'o',
  '\u0440': 'p',
  '\u0441': 'c',
  '\u0442': 't',
  '\u0443': 'y',
  '\u0445': 'x',
  '\u0455': 's',
  '\u0456': 'i',
  '\u0458': 'j',
  '\u04bb': 'h',
  '\u0501': 'd',
  '\u03b1': 'a',
  '\u03b2': 'b',
  '\u03b5': 'e',
  '\u03b9': 'i',
  '\u03ba': 'k',
  '\u03bd': 'v',
  '\u03bf': 'o',
  '\u03c1': 'p',
  '\u03c4': 't',
  '\u03c5': 'u',
  '\u03c7': 'x',
};

/**
 * The identity as it reads: normal form, accents removed, look-alike letters replaced. Two
 * identities with one skeleton could be taken for each other by a person reading them.
 */
export function identitySkeleton(identity: string): string {
  let out = '';
  for (const ch of normalizeIdentity(identity).normalize('NFD').replace(/\p{M}/gu, '')) {
    out += LOOK_ALIKES[ch] ?? ch;
  }
  return out;
}

/**
 * Whether `a` could be the same person as `b`, for refusals only (self-approval): equal in normal
 * form, or reading the same (`alıce`, `alicé`, Cyrillic `аlice` against `alice`). Never used to
 * grant anything: being named as an approver needs the exact normal form.
 */
export function couldBeSamePerson(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  return sameIdentity(a, b) || identitySkeleton(a) === identitySkeleton(b);
}

/**
 * Scripts a single identity may legitimately combine (UTS #39 "highly restrictive"): Japanese,
 * Chinese and Korean names mix Han with their own scripts and with Latin. Anything else that mixes
 * scripts — Latin with Cyrillic `а`, Greek `ο` — is how a look-alike of another person's name is
 * made, and is refused where an identity is *claimed* (`context.onBehalfOf`).
 */
const ALLOWED_MIXES: ReadonlyArray<ReadonlySet<string>> = [
  new Set(['Latin', 'Han', 'Hiragana', 'Katakana']),
  new Set(['Latin', 'Han', 'Bopomofo']),
  new Set(['Latin', 'Han', 'Hangul']),
];

// Every script property value ECMAScript regular expressions know (Unicode 15). Characters of the
// scripts Common (digits, punctuation, `@`) and Inherited (combining marks) belong to no script.
const SCRIPT_NAMES = [
  'Adlam',
  'Ahom',
  'Anatolian_Hieroglyphs',
  'Arabic',
  'Armenian',
  'Avestan',
  'Balinese',
  'Bamum',
  'Bassa_Vah',
  'Batak',
  'Bengali',
  'Bhaiksuki',
  'Bopomofo',
  'Brahmi',
  'Braille',
  'Buginese',
  'Buhid',
  'Canadian_Aboriginal',
  'Carian',
  'Caucasian_Albanian',
  'Chakma',
  'Cham',
  'Cherokee',
  'Chorasmian',
  'Coptic',
  'Cuneiform',
  'Cypriot',
  'Cypro_Minoan',
  'Cyrillic',
  'Deseret',
  'Devanagari',
  'Dives_Akuru',
  'Dogra',
  'Duployan',
  'Egyptian_Hieroglyphs',
  'Elbasan',
  'Elymaic',
  'Ethiopic',
  'Georgian',
  'Glagolitic',
  'Gothic',
  'Grantha',
  'Greek',
  'Gujarati',
  'Gunjala_Gondi',
  'Gurmukhi',
  'Han',
  'Hangul',
  'Hanifi_Rohingya',
  'Hanunoo',
  'Hatran',
  'Hebrew',
  'Hiragana',
  'Imperial_Aramaic',
  'Inscriptional_Pahlavi',
  'Inscriptional_Parthian',
  'Javanese',
  'Kaithi',
  'Kannada',
  'Katakana',
  'Kawi',
  'Kayah_Li',
  'Kharoshthi',
  'Khitan_Small_Script',
  'Khmer',
  'Khojki',
  'Khudawadi',
  'Lao',
  'Latin',
  'Lepcha',
  'Limbu',
  'Linear_A',
  'Linear_B',
  'Lisu',
  'Lycian',
  'Lydian',
  'Mahajani',
  'Makasar',
  'Malayalam',
  'Mandaic',
  'Manichaean',
  'Marchen',
  'Masaram_Gondi',
  'Medefaidrin',
  'Meetei_Mayek',
  'Mende_Kikakui',
  'Meroitic_Cursive',
  'Meroitic_Hieroglyphs',
  'Miao',
  'Modi',
  'Mongolian',
  'Mro',
  'Multani',
  'Myanmar',
  'Nabataean',
  'Nag_Mundari',
  'Nandinagari',
  'New_Tai_Lue',
  'Newa',
  'Nko',
  'Nushu',
  'Nyiakeng_Puachue_Hmong',
  'Ogham',
  'Ol_Chiki',
  'Old_Hungarian',
  'Old_Italic',
  'Old_North_Arabian',
  'Old_Permic',
  'Old_Persian',
  'Old_Sogdian',
  'Old_South_Arabian',
  'Old_Turkic',
  'Old_Uyghur',
  'Oriya',
  'Osage',
  'Osmanya',
  'Pahawh_Hmong',
  'Palmyrene',
  'Pau_Cin_Hau',
  'Phags_Pa',
  'Phoenician',
  'Psalter_Pahlavi',
  'Rejang',
  'Runic',
  'Samaritan',
  'Saurashtra',
  'Sharada',
  'Shavian',
  'Siddham',
  'SignWriting',
  'Sinhala',
  'Sogdian',
  'Sora_Sompeng',
  'Soyombo',
  'Sundanese',
  'Syloti_Nagri',
  'Syriac',
  'Tagalog',
  'Tagbanwa',
  'Tai_Le',
  'Tai_Tham',
  'Tai_Viet',
  'Takri',
  'Tamil',
  'Tangsa',
  'Tangut',
  'Telugu',
  'Thaana',
  'Thai',
  'Tibetan',
  'Tifinagh',
  'Tirhuta',
  'Toto',
  'Ugaritic',
  'Vai',
  'Vithkuqi',
  'Wancho',
  'Warang_Citi',
  'Yezidi',
  'Yi',
  'Zanabazar_Square',
];
const SCRIPTS: ReadonlyArray<readonly [string, RegExp]> = SCRIPT_NAMES.flatMap((name) => {
  try {
    return [[name, new RegExp(`^\\p{Script=${name}}$`, 'u')] as const];
  } catch {
    return []; // a runtime older than the list: its characters fall under "unlisted" below
  }
});
const NO_SCRIPT = /^[\p{Script=Common}\p{Script=Inherited}]$/u;

function scriptOf(ch: string): string | undefined {
  if (NO_SCRIPT.test(ch)) return undefined;
  for (const [name, regex] of SCRIPTS) if (regex.test(ch)) return name;
  // A script this runtime knows and the list does not: its own, distinct from every listed one.
  return `unlisted:${ch.codePointAt(0)!.toString(16)}`;
}

/** The scripts `text`'s letters come from (Common and Inherited characters belong to none). */
export function scriptsOf(text: string): Set<string> {
  const scripts = new Set<string>();
  for (const ch of text) {
    const script = scriptOf(ch);
    if (script) scripts.add(script);
  }
  return scripts;
}

/** Whether `text` combines scripts no single legitimate name does (Latin + Cyrillic, …). */
export function mixesScripts(text: string): boolean {
  const scripts = scriptsOf(text);
  if (scripts.size <= 1) return false;
  return !ALLOWED_MIXES.some((allowed) => [...scripts].every((s) => allowed.has(s)));
}

/**
 * Why a claimed identity (`context.onBehalfOf`) is refused, or undefined when it is acceptable.
 * A claimed identity must already be in normal form — otherwise `ALICE@example.com` or
 * `alice@example.com ` would be stored as something other than the person it names — and must not
 * mix scripts, so a Cyrillic look-alike of `alice@example.com` cannot pose as a different person.
 */
export function claimedIdentityProblem(identity: string): string | undefined {
  const normal = normalizeIdentity(identity);
  if (normal === '') return 'is empty once normalized';
  if (normal !== identity) {
    return `must be written in normal form (${JSON.stringify(normal.slice(0, 64))}): lower case, NFKC, no surrounding or invisible spaces`;
  }
  if (mixesScripts(identity)) {
    return `mixes scripts (${[...scriptsOf(identity)].join(', ')}); a name written in one script is required`;
  }
  return undefined;
}
