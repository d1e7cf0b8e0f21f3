/**
 * Splits a SQL script into statements, knowing enough of PostgreSQL's lexer to find the real semicolons:
 * quoted strings ('' and E'' with backslash escapes), quoted identifiers, dollar-quoted bodies, line
 * comments and nested block comments. Used to run files that cannot be one implicit transaction
 * (CREATE INDEX CONCURRENTLY) and to map linter findings to the statement that carries a waiver.
 */
export interface SqlStatement {
  /** The statement's text without the closing semicolon, leading comments included. */
  text: string;
  /** 1-based line of the statement's first token (comments before it excluded). */
  startLine: number;
  /** 1-based line of its last character. */
  endLine: number;
  /** The comment lines directly above the first token, each trimmed, in order. */
  leadingComments: string[];
}

export function splitSqlStatements(sql: string): SqlStatement[] {
  const statements: SqlStatement[] = [];
  let start = 0;
  let firstToken = -1;
  let i = 0;
  const n = sql.length;

  const close = (end: number) => {
    if (firstToken >= 0) {
      const text = sql.slice(start, end);
      statements.push({
        text: text.trim(),
        startLine: lineAt(sql, firstToken),
        endLine: lineAt(sql, Math.max(firstToken, end - 1)),
        leadingComments: leadingCommentLines(sql.slice(start, firstToken)),
      });
    }
    start = end + 1;
    firstToken = -1;
  };

  while (i < n) {
    const c = sql[i];
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const eol = sql.indexOf('\n', i);
      i = eol < 0 ? n : eol + 1;
      continue;
    }
    if (c === '/' && next === '*') {
      i = skipBlockComment(sql, i);
      continue;
    }
    if (c === ';') {
      close(i);
      i += 1;
      continue;
    }
    if (c === undefined || /\s/.test(c)) {
      i += 1;
      continue;
    }
    if (firstToken < 0) firstToken = i;
    if (c === "'") {
      const escaped = i > 0 && /[eE]/.test(sql[i - 1] ?? '') && !/\w/.test(sql[i - 2] ?? '');
      i = skipQuoted(sql, i, "'", escaped);
    } else if (c === '"') {
      i = skipQuoted(sql, i, '"', false);
    } else if (c === '$') {
      i = skipDollar(sql, i);
    } else {
      i += 1;
    }
  }
  close(n);
  return statements;
}

function lineAt(sql: string, index: number): number {
  let line = 1;
  for (let k = 0; k < index; k++) if (sql.charCodeAt(k) === 10) line++;
  return line;
}

function leadingCommentLines(gap: string): string[] {
  const lines = gap.split('\n').map((line) => line.trim());
  const out: string[] = [];
  for (let k = lines.length - 1; k >= 0; k--) {
    const line = lines[k] ?? '';
    if (line === '' && out.length === 0) continue;
    if (!line.startsWith('--')) break;
    out.unshift(line);
  }
  return out;
}

function skipBlockComment(sql: string, from: number): number {
  let depth = 0;
  let i = from;
  while (i < sql.length) {
    if (sql[i] === '/' && sql[i + 1] === '*') {
      depth++;
      i += 2;
    } else if (sql[i] === '*' && sql[i + 1] === '/') {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else i++;
  }
  return sql.length;
}

function skipQuoted(sql: string, from: number, quote: string, backslashEscapes: boolean): number {
  let i = from + 1;
  while (i < sql.length) {
    const c = sql[i];
    if (backslashEscapes && c === '\\') {
      i += 2;
      continue;
    }
    if (c === quote) {
      if (sql[i + 1] === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return sql.length;
}

function skipDollar(sql: string, from: number): number {
  const match = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(from, from + 64));
  // `$1` parameters and `$` inside identifiers are not quotes.
  if (!match || (from > 0 && /\w/.test(sql[from - 1] ?? ''))) return from + 1;
  const tag = match[0];
  const end = sql.indexOf(tag, from + tag.length);
  return end < 0 ? sql.length : end + tag.length;
}
