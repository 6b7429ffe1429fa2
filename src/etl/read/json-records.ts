/** One top-level JSON value of a file, with the 1-based line it starts on. */
export interface JsonText {
  text: string;
  line: number;
  /** The parsed value, when the splitter already parsed it. */
  value?: unknown;
  /** Why the text cannot be a record even before parsing (e.g. cut off at the end of the file). */
  problem?: string;
}

/** The line a value ends on: how Redshift numbers a rejected JSON record (SYS_LOAD_ERROR_DETAIL's line_number). */
export function lastLineOf(json: JsonText): number {
  return json.line + (json.text.match(/\n/g)?.length ?? 0);
}

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;

/** JSON's white space (RFC 8259): what JSON.parse accepts around a value. */
function isJsonSpace(c: number): boolean {
  return c === 0x20 || c === NEWLINE || c === 0x0d || c === 0x09;
}

/** The scanner's white space: JSON's, and a byte-order mark (which files may start with). */
function isSpace(c: number): boolean {
  return isJsonSpace(c) || c === 0xfeff;
}

/**
 * The text as one record, when it is exactly one JSON object with only JSON's white space around it,
 * and none of its lines starts with `{` (the scanner would take such a line inside a value for a new
 * record, the one rule by which it reads a valid object otherwise than JSON.parse does); else undefined.
 */
function oneObject(text: string, firstLine: number): JsonText | undefined {
  let start = 0;
  while (start < text.length && isJsonSpace(text.charCodeAt(start))) start++;
  if (text.charCodeAt(start) !== OPEN_BRACE || text.includes('\n{', start)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  let end = text.length;
  while (isJsonSpace(text.charCodeAt(end - 1))) end--;
  let line = firstLine;
  for (let nl = text.indexOf('\n'); nl >= 0 && nl < start; nl = text.indexOf('\n', nl + 1)) line++;
  return { text: text.slice(start, end), line, value };
}

/** Whether a line holds exactly one JSON object. */
export function isObjectLine(line: string): boolean {
  try {
    const value: unknown = JSON.parse(line);
    // Stryker disable next-line ConditionalExpression,LogicalOperator: equivalent — isObjectLine is only asked about lines that start with {, and what JSON.parse makes of those is always an object. The → false mutant (killed) is ignored with them.
    // Stryker disable BlockStatement: equivalent — an empty catch block returns undefined, as false as false to the only caller.
    return value !== null && typeof value === 'object' && !Array.isArray(value);
  } catch {
    return false;
  }
}

// Stryker restore BlockStatement
function trimLine(line: string): string {
  // Most lines have nothing to trim: two char tests instead of a regex per line.
  // Stryker disable all: equivalent — a shortcut for lines with nothing to trim; the regex below trims the same.
  const [first, last] = [line.charCodeAt(0), line.charCodeAt(line.length - 1)];
  if (first > 0x20 && first < 0x7f && last > 0x20 && last < 0x7f) return line;
  // A byte-order mark and CR are white space here, as Redshift treats them.
  // Stryker restore all
  return line.replace(/^[\s\uFEFF]+|[\s\uFEFF]+$/g, '');
}

/**
 * Splits a stream of text into top-level JSON values, as Redshift's `COPY … FORMAT AS JSON` reads
 * a file: values one after another, each spanning any number of lines, separated by optional
 * white space.
 *
 * Most input is one value per line, so each line is first tried whole with JSON.parse (the value is
 * kept, so it is parsed once). A line that does not parse on its own goes to a bracket-counting
 * scanner (depth tracked outside strings only) until a value ends at the end of a line; text at the
 * top level that opens no object or array is returned up to the end of its line, for the caller
 * to reject with its line number.
 */
export class JsonSplitter {
  /** Unconsumed text: an unfinished line (line mode) or an unfinished value (scanner). */
  private carry = '';
  private scanning = false;
  // Scanner state, kept across chunks.
  private depth = 0;
  private inString = false;
  private escaped = false;
  private junk = false;
  private startLine = 1;
  /** How much of `carry` the scanner has already scanned (it resumes there). */
  private scanned = 0;

  /** `line`: the number of the first line (a part of a file that starts further in; see splitFile). */
  constructor(private line = 1) {}

  /** Consumes a chunk and returns the values it completes. */
  push(chunk: string): JsonText[] {
    // An empty chunk changes nothing (consuming it would drop the carry of a value being scanned).
    if (!chunk) return [];
    return this.consume(this.carry + chunk, false);
  }

  /**
   * Consumes one line, given without its newline, into `out`: the same as push(`${line}\n`), but the
   * usual line, a whole value by itself, goes straight to JSON.parse without joining any text.
   */
  pushLine(line: string, out: JsonText[]): void {
    // Stryker disable next-line ConditionalExpression: equivalent — `→ true`: push(`${line}\n`) is what the fast path below stands for, and gives the same records, only slower. The → false mutant (killed) is ignored with it.
    if (this.scanning || this.carry) {
      out.push(...this.push(`${line}\n`));
      return;
    }
    const trimmed = trimLine(line);
    // Stryker disable next-line ConditionalExpression,StringLiteral,BlockStatement: equivalent — a blank line that skips this branch goes to JSON.parse(''), which throws, and then to push, which counts the blank line as this branch does. The → true mutant (killed) is ignored with them.
    if (trimmed === '') {
      this.line++;
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch {
      // Not a value by itself: the scanner takes it, as push would.
      out.push(...this.push(`${line}\n`));
      return;
    }
    out.push({ text: trimmed, line: this.line++, value });
  }

  /**
   * Splits a whole text, as push(text) and then end() do. The usual small file, one object over any
   * number of lines (a song file), is parsed once, whole: without the line-by-line parse that fails on
   * its first line, the scanner's pass and the second parse of the value's text
   * (docs/performance-history.md, the twelfth round, "Song files").
   */
  split(text: string): JsonText[] {
    const one = this.scanning || this.carry ? undefined : oneObject(text, this.line);
    if (!one) return [...this.push(text), ...this.end()];
    this.end(); // resets the state, as end() after push would
    return [one];
  }

  /** Ends the input and returns what is left: a value cut off by the end of the file, if any. */
  end(): JsonText[] {
    // The last line may lack its newline: give it one.
    // Stryker disable next-line BooleanLiteral: equivalent — `last` only feeds the check at the end of consume, which never fires for text that ends in a newline (see there).
    const out = this.consume(`${this.carry}\n`, true);
    // Stryker disable next-line MethodExpression,LogicalOperator: equivalent — after the text and its added newline, the scanner is still on only inside an unfinished value, which carry holds from its { or [ (never blank); when it is off, carry is empty.
    if (this.scanning && this.carry.trim()) {
      const rest: JsonText = { text: this.carry.trimEnd(), line: this.startLine };
      // Stryker disable next-line ConditionalExpression: equivalent — `!this.junk` → true: junk always ends at its line's newline, and end() adds one, so none is pending here. The → false mutant (killed) is ignored with it.
      if (!this.junk) rest.problem = 'the record is cut off by the end of the file (unbalanced braces or quotes)';
      out.push(rest);
    }
    this.carry = '';
    this.scanning = this.inString = this.escaped = this.junk = false;
    this.depth = this.scanned = 0;
    this.line = 1;
    return out;
  }

  private consume(text: string, last: boolean): JsonText[] {
    const out: JsonText[] = [];
    // The scanner resumes after what it already scanned; an unfinished value starts at 0.
    let pos = this.scanning ? this.scanned : 0;
    // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator,UnaryOperator: equivalent — outside an unfinished value (kept in carry, from 0) the scanner sets valueStart at the next value or junk before it reads it; a wrong start only makes carry keep white space or scanned text, which `scanned` skips. The → false and `<= 0` mutants (killed) are ignored with them.
    let valueStart = this.scanning && this.carry.length > 0 ? 0 : -1;
    this.carry = '';
    while (pos < text.length) {
      if (this.scanning) {
        [pos, valueStart] = this.scan(text, pos, valueStart, out);
        continue;
      }
      const nl = text.indexOf('\n', pos);
      if (nl < 0) {
        this.carry = text.slice(pos);
        break;
      }
      const trimmed = trimLine(text.slice(pos, nl));
      if (trimmed === '') {
        this.line++;
        pos = nl + 1;
        continue;
      }
      try {
        out.push({ text: trimmed, line: this.line, value: JSON.parse(trimmed) });
        this.line++;
        pos = nl + 1;
      } catch {
        // Not one value on its own line: pretty-printed, several values, or broken. Scan it.
        this.scanning = true;
      }
    }
    // Stryker disable next-line ConditionalExpression,BooleanLiteral: equivalent — for end() (last) the text ends in a newline, where the scanner either stops at the top level (scanner off) or is inside a value (valueStart ≥ 0): it never ends between values, so this never fires (no test reaches it). The line's other ConditionalExpression mutants (killed) are ignored with it.
    if (last && this.scanning && valueStart < 0) this.scanning = false;
    return out;
  }

  /** Scans from pos; returns [where it stopped, where the unfinished value starts or -1]. */
  private scan(text: string, pos: number, valueStart: number, out: JsonText[]): [number, number] {
    const n = text.length;
    for (let i = pos; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c === NEWLINE) {
        this.line++;
        if (this.junk) {
          out.push({ text: text.slice(valueStart, i).trimEnd(), line: this.startLine });
          this.junk = false;
          this.scanning = false;
          // Stryker disable next-line UnaryOperator: equivalent — the scanner is off; when it starts again it sets valueStart at the value or junk it meets before it reads it.
          return [i + 1, -1];
        }
        if (!this.inString && this.depth === 0) {
          this.scanning = false; // back at the top level at a line end: lines are values again
          // Stryker disable next-line UnaryOperator: equivalent — the scanner is off; when it starts again it sets valueStart at the value or junk it meets before it reads it.
          return [i + 1, -1];
        }
        // Inside an unfinished value, a line that is a whole object by itself starts a new record:
        // the value was cut off (a truncated line of a log), and is not allowed to swallow the rest.
        // Stryker disable next-line ConditionalExpression: equivalent — `valueStart >= 0` → true: here the scanner is inside a value or string, which has started (valueStart ≥ 0). The line's other ConditionalExpression mutants (killed) are ignored with it.
        if (valueStart >= 0 && (i + 1 === n || text.charCodeAt(i + 1) === OPEN_BRACE)) {
          // Stryker disable next-line ConditionalExpression,ArithmeticOperator: equivalent — `i + 1 === n` → false (or `i - 1 === n`, never true): indexOf from the end of the text finds nothing, -1 all the same. The → true and indexOf's `i - 1` mutants (killed) are ignored with them.
          const end = i + 1 === n ? -1 : text.indexOf('\n', i + 1);
          // Stryker disable next-line EqualityOperator: equivalent — `end <= 0`: end is -1 or the place of a newline after i + 1, never 0. The `>= 0` mutant (killed) is ignored with it.
          if (end < 0) {
            // The next line is not all here yet: come back to this newline with the next chunk.
            this.line--;
            this.carry = text.slice(valueStart);
            this.scanned = i - valueStart;
            // Stryker disable next-line ArrayDeclaration: equivalent — returning [] leaves pos undefined, which ends consume's loop as n does, and valueStart (≥ 0 here) undefined, which the check after the loop takes as it takes ≥ 0.
            return [n, valueStart];
          }
          if (isObjectLine(text.slice(i + 1, end))) {
            out.push({ text: text.slice(valueStart, i).trimEnd(), line: this.startLine, problem: `the record is cut off: line ${this.line} starts a new record before it ends` });
            this.depth = 0;
            this.scanning = this.inString = this.escaped = false;
            // Stryker disable next-line UnaryOperator: equivalent — the scanner is off; when it starts again it sets valueStart at the value or junk it meets before it reads it.
            return [i + 1, -1];
          }
        }
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === BACKSLASH) this.escaped = true;
        else if (c === QUOTE) this.inString = false;
        continue;
      }
      if (this.junk) continue;
      if (this.depth === 0) {
        if (isSpace(c)) continue;
        valueStart = i;
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
          out.push({ text: text.slice(valueStart, i + 1), line: this.startLine });
          // Stryker disable next-line UnaryOperator: equivalent — at the top level the scanner sets valueStart at the next value or junk before it reads it; a wrong one only makes carry keep scanned text, which `scanned` skips.
          valueStart = -1;
        }
      }
    }
    // The text ended inside a value (or junk): keep it for the next chunk.
    // Stryker disable next-line ConditionalExpression,StringLiteral: equivalent — between values, whatever carry keeps is never scanned: the next consume resumes at `scanned`, its end (push ignores empty chunks, which would drop it unscanned). The → false mutant (killed) is ignored with them.
    this.carry = valueStart >= 0 ? text.slice(valueStart) : '';
    this.scanned = this.carry.length;
    // Stryker disable next-line ArrayDeclaration: equivalent — returning [] leaves pos undefined, which ends consume's loop as n does; valueStart is read after it only by the check that never fires (see there).
    return [n, valueStart];
  }
}
