// Text that came from outside (a server's error message, stdin, an argument, a file) is
// printed only through this: terminal escapes are dropped, every other control character
// becomes '?', white space runs become one space, and the length is bounded, so a foreign
// string can neither rewrite a person's terminal nor forge a log line nor flood it.
export const PRINTABLE_MAX_LENGTH = 200;

// CSI (ESC [ … final byte) and OSC (ESC ] … BEL or ESC \) sequences: colours, cursor moves, titles.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is what this pattern is for
const ESCAPE_SEQUENCES = /\x1b\[[0-?]*[ -/]*[@-~]?|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x9b[0-?]*[ -/]*[@-~]?/g;
// C0 and C1 controls, DEL, and the Unicode marks that reorder or hide text (bidi overrides, isolates).
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is what this pattern is for
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;

export function printable(text: string, maxLength = PRINTABLE_MAX_LENGTH): string {
  const clean = text
    .replace(ESCAPE_SEQUENCES, '')
    .replace(/[\t\n\r]+/g, ' ')
    .replace(CONTROLS, '?')
    .replace(/ {2,}/g, ' ');
  if (clean.length <= maxLength) return clean;
  // Counted in code points, cut on one (never inside a surrogate pair).
  const points = Array.from(clean.slice(0, 2 * maxLength + 2));
  return points.length <= maxLength ? clean : `${points.slice(0, maxLength - 1).join('')}…`;
}
