/**
 * SQL text in pieces: code, string literals, quoted identifiers and comments, read in one pass so
 * that `--` inside a literal is not a comment and a keyword inside a literal is not a keyword.
 */
export interface SqlPiece {
  kind: 'code' | 'string' | 'ident' | 'comment';
  text: string;
}

/** Splits SQL into code, 'string', "identifier" and comment pieces (E'…' escapes are not ours to emit). */
export function lexSql(sql: string): SqlPiece[] {
  const pieces: SqlPiece[] = [];
  let code = '';
  let i = 0;
  const flush = () => {
    if (code) pieces.push({ kind: 'code', text: code });
    code = '';
  };
  while (i < sql.length) {
    const c = sql[i]!;
    const two = sql.slice(i, i + 2);
    let end = -1;
    let kind: SqlPiece['kind'] | undefined;
    if (c === "'" || c === '"') {
      kind = c === "'" ? 'string' : 'ident';
      end = i + 1;
      for (;;) {
        const close = sql.indexOf(c, end);
        if (close < 0) {
          end = sql.length;
          break;
        }
        if (sql[close + 1] === c) end = close + 2; // a doubled quote stays inside
        else {
          end = close + 1;
          break;
        }
      }
    } else if (two === '--') {
      kind = 'comment';
      const nl = sql.indexOf('\n', i);
      end = nl < 0 ? sql.length : nl;
    } else if (two === '/*') {
      kind = 'comment';
      const close = sql.indexOf('*/', i + 2);
      end = close < 0 ? sql.length : close + 2;
    }
    if (kind) {
      flush();
      pieces.push({ kind, text: sql.slice(i, end) });
      i = end;
    } else {
      code += c;
      i++;
    }
  }
  flush();
  return pieces;
}

/** Applies `change` to the code outside literals, identifiers and comments; the rest is kept as is. */
export function mapCode(sql: string, change: (code: string) => string): string {
  return lexSql(sql)
    .map((p) => (p.kind === 'code' ? change(p.text) : p.text))
    .join('');
}
