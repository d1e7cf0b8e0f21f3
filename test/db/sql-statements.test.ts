import { describe, expect, it } from 'vitest';
import { splitSqlStatements } from '../../src/db/sql-statements.ts';

describe('splitSqlStatements', () => {
  it('splits on semicolons outside quotes, dollar quotes and comments', () => {
    const sql = [
      'select \'a;b\', "c;d";',
      '-- a comment; with a semicolon',
      'create function f() returns int language sql as $body$ select 1; $body$;',
      '/* block ; /* nested ; */ still comment */ select $1;',
      "select E'it\\'s;';",
    ].join('\n');
    const statements = splitSqlStatements(sql);
    expect(statements.map((s) => s.startLine)).toEqual([1, 3, 4, 5]);
    expect(statements[1]?.text).toContain('$body$ select 1; $body$');
    expect(statements[1]?.leadingComments).toEqual(['-- a comment; with a semicolon']);
    expect(statements[3]?.text).toBe("select E'it\\'s;'");
  });

  it('keeps a last statement without a semicolon and ignores trailing comments', () => {
    const statements = splitSqlStatements('select 1;\nselect 2\n-- end\n');
    expect(statements.map((s) => s.text)).toEqual(['select 1', 'select 2\n-- end']);
  });

  it('reports the first and last line of a statement that spans lines', () => {
    const [statement] = splitSqlStatements('\n\ncreate table t (\n  a text\n);');
    expect(statement).toMatchObject({ startLine: 3, endLine: 5 });
  });
});
