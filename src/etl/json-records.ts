/** The text of one top-level JSON value in a file, with the 1-based line it starts on. */
export interface JsonText {
  text: string;
  line: number;
  /** Why the text cannot be a record even before parsing (e.g. cut off at the end of the file). */
  problem?: string;
}

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;

function isSpace(c: number): boolean {
  return c === 0x20 || c === NEWLINE || c === 0x0d || c === 0x09 || c === 0xfeff;
}

/**
 * Splits a stream of text into top-level JSON values, as Redshift's `COPY … FORMAT AS JSON` reads
 * a file: values one after another, each spanning any number of lines, separated by optional
 * white space. Bracket depth is tracked outside strings only, so braces inside strings are safe.
 * Text at the top level that does not open an object or array is returned up to the end of its
 * line, so the caller can reject it with its line number.
 */
export class JsonSplitter {
  private pending = '';
  private depth = 0;
  private inString = false;
  private escaped = false;
  private junk = false;
  private line = 1;
  private startLine = 1;

  /** Consumes a chunk and returns the values it completes. */
  push(chunk: string): JsonText[] {
    const out: JsonText[] = [];
    let start = this.pending.length > 0 || this.depth > 0 || this.junk ? 0 : -1;
    const n = chunk.length;
    for (let i = 0; i < n; i++) {
      const c = chunk.charCodeAt(i);
      if (c === NEWLINE) this.line++;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === BACKSLASH) this.escaped = true;
        else if (c === QUOTE) this.inString = false;
        continue;
      }
      if (this.junk) {
        if (c === NEWLINE) {
          out.push({ text: this.take(chunk, start, i).trimEnd(), line: this.startLine });
          this.junk = false;
          start = -1;
        }
        continue;
      }
      if (this.depth === 0) {
        if (isSpace(c)) continue;
        start = i;
        this.startLine = this.line;
        if (c !== OPEN_BRACE && c !== OPEN_BRACKET) {
          this.junk = true;
          continue;
        }
      }
      if (c === QUOTE) this.inString = true;
      else if (c === OPEN_BRACE || c === OPEN_BRACKET) this.depth++;
      else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        this.depth--;
        if (this.depth === 0) {
          out.push({ text: this.take(chunk, start, i + 1), line: this.startLine });
          start = -1;
        }
      }
    }
    if (start >= 0) this.pending += chunk.slice(start);
    return out;
  }

  /** Ends the input and returns what is left: a value cut off by the end of the file, if any. */
  end(): JsonText[] {
    if (!this.pending.trim()) return [];
    const text = this.pending.trimEnd();
    const rest: JsonText = { text, line: this.startLine };
    if (!this.junk) rest.problem = 'the record is cut off by the end of the file (unbalanced braces or quotes)';
    this.pending = '';
    this.depth = 0;
    this.inString = false;
    this.junk = false;
    return [rest];
  }

  private take(chunk: string, start: number, end: number): string {
    const text = this.pending + chunk.slice(start, end);
    this.pending = '';
    return text;
  }
}
