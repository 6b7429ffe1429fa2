/** The size of the buffers rows are written into: a socket write per row costs more than parsing it. */
const SIZE = 1 << 18;

/**
 * PostgreSQL's binary COPY format (https://www.postgresql.org/docs/current/sql-copy.html, "Binary
 * Format"): a signature, a flags word and a header-extension length, both 0, before the rows; a
 * field count of -1 after them.
 */
export const BINARY_COPY_HEADER = Buffer.from([...Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), 0, 0, 0, 0, 0, 0, 0, 0]);
export const BINARY_COPY_TRAILER = Buffer.from([0xff, 0xff]);

const TWO_TO_32 = 2 ** 32;

/**
 * Collects rows as bytes in buffers of about 256 KiB: rows of binary COPY, written a cell at a time
 * straight into the buffer (no text per value, nothing for the server to parse back), or lines of
 * text. A row being written can be abandoned (its record was rejected) until the next one begins.
 */
export class RowBuffer {
  private buffer = Buffer.allocUnsafeSlow(SIZE);
  private used = 0;
  /** Where the row being written starts: it moves whole when it outgrows the buffer. */
  private rowStart = 0;
  private full: Buffer[] = [];

  /** `send` gets each buffer once it is full (or flushed); a fresh buffer follows, so `send` may keep or transfer it. */
  constructor(private readonly send: (bytes: Buffer) => Promise<void>) {}

  /** Appends one line of text, given with its newline. */
  add(text: string): void {
    this.rowStart = this.used;
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    this.room(text.length * 3);
    this.used += this.buffer.write(text, this.used);
  }

  /** Starts a binary COPY row of `cells` cells. */
  beginRow(cells: number): void {
    this.rowStart = this.used;
    this.room(2);
    this.used = this.buffer.writeInt16BE(cells, this.used);
  }

  /** Drops the row begun last: its record turned out to be rejected. */
  abandonRow(): void {
    this.used = this.rowStart;
  }

  /** A NULL cell. */
  nullCell(): void {
    this.room(4);
    this.used = this.buffer.writeInt32BE(-1, this.used);
  }

  /** A text cell, UTF-8; `ascii`: the caller knows it is all ASCII (one byte per character, copied here). */
  textCell(text: string, ascii: boolean): void {
    this.room(4 + text.length * 3);
    const at = this.used + 4;
    let bytes: number;
    // Three ways to the same bytes, by speed. Their mutants are equivalent, so switched off here: the
    // conditions, the bound, `<=` in the loop (it writes a byte past the text, which the next cell
    // overwrites), the encoding name (ASCII is the same in UTF-8).
    // Stryker disable ConditionalExpression,EqualityOperator,StringLiteral: equivalent — see above.
    if (ascii && text.length < 32) {
      // Short ASCII strings, most of a log's, copy faster here than through a call into C++.
      const b = this.buffer;
      for (let i = 0; i < text.length; i++) b[at + i] = text.charCodeAt(i);
      bytes = text.length;
    } else if (ascii) {
      bytes = this.buffer.write(text, at, 'latin1');
    } else {
      bytes = this.buffer.write(text, at);
    }
    // Stryker restore all
    this.buffer.writeInt32BE(bytes, this.used);
    this.used = at + bytes;
  }

  /** An INTEGER cell (a 32-bit integer). */
  int4Cell(n: number): void {
    this.room(8);
    this.used = this.buffer.writeInt32BE(n, this.buffer.writeInt32BE(4, this.used));
  }

  /** A BIGINT cell: any safe integer, as two 32-bit halves (no BigInt per value). */
  int8Cell(n: number): void {
    this.room(12);
    const high = Math.floor(n / TWO_TO_32);
    const at = this.buffer.writeInt32BE(high, this.buffer.writeInt32BE(8, this.used));
    this.used = this.buffer.writeUInt32BE(n - high * TWO_TO_32, at);
  }

  /** A DOUBLE PRECISION cell. */
  float8Cell(n: number): void {
    this.room(12);
    this.used = this.buffer.writeDoubleBE(n, this.buffer.writeInt32BE(8, this.used));
  }

  /** Sends the full buffers; with `all`, the one being filled too. */
  async flush(all = false): Promise<void> {
    if (all) this.retire();
    const full = this.full;
    this.full = [];
    for (const bytes of full) await this.send(bytes);
  }

  /** Makes room for `n` more bytes of the current row: a row that does not fit moves whole to a fresh buffer. */
  private room(n: number): void {
    if (this.used + n <= this.buffer.length) return;
    const partial = this.buffer.subarray(this.rowStart, this.used);
    if (this.rowStart > 0) this.full.push(this.buffer.subarray(0, this.rowStart));
    this.buffer = Buffer.allocUnsafeSlow(Math.max(SIZE, partial.length + n));
    this.used = partial.copy(this.buffer);
    this.rowStart = 0;
  }

  private retire(): void {
    if (this.used === 0) return;
    this.full.push(this.buffer.subarray(0, this.used));
    this.buffer = Buffer.allocUnsafeSlow(SIZE);
    this.used = this.rowStart = 0;
  }
}
