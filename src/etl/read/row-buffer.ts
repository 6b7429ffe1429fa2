/** The size of the buffers rows are written into: a socket write per row costs more than parsing it. */
const SIZE = 1 << 18;

/**
 * Collects text rows as UTF-8 bytes in buffers of about 256 KiB. Each row is encoded straight into
 * the buffer: joining rows into one long string first and encoding that cost twice as much.
 */
export class RowBuffer {
  private buffer = Buffer.allocUnsafeSlow(SIZE);
  private used = 0;
  private full: Buffer[] = [];

  /** `send` gets each buffer once it is full (or flushed); a fresh buffer follows, so `send` may keep or transfer it. */
  constructor(private readonly send: (bytes: Buffer) => Promise<void>) {}

  /** Appends one row. */
  add(row: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    if (this.used + row.length * 3 > this.buffer.length) {
      this.retire();
      // Stryker disable next-line EqualityOperator: equivalent — `>=`: SIZE (2^18) is not a multiple of 3, so row.length * 3 never equals it. The `<=` mutant (killed) is ignored with it.
      if (row.length * 3 > SIZE) this.buffer = Buffer.allocUnsafeSlow(row.length * 3);
    }
    this.used += this.buffer.write(row, this.used);
  }

  /** Sends the full buffers; with `all`, the one being filled too. */
  async flush(all = false): Promise<void> {
    if (all) this.retire();
    const full = this.full;
    this.full = [];
    for (const bytes of full) await this.send(bytes);
  }

  private retire(): void {
    if (this.used === 0) return;
    this.full.push(this.buffer.subarray(0, this.used));
    this.buffer = Buffer.allocUnsafeSlow(SIZE);
    this.used = 0;
  }
}
