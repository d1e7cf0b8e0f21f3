import { VigilError } from '../errors.ts';

/**
 * Keyset pagination cursors: (a timestamp as PostgreSQL's own text, an id). The timestamp stays text so
 * no microsecond is lost on the way through JavaScript. Decoding checks both parts fully, so a forged or
 * damaged cursor is a 400, never a database error.
 */
const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?([+-]\d{2})(:\d{2})?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function encodeCursor(at: string, id: string): string {
  return Buffer.from(JSON.stringify([at, id])).toString('base64url');
}

export function decodeCursor(cursor: string): [string, string] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (Array.isArray(parsed) && parsed.length === 2) {
    const [at, id] = parsed;
    if (typeof at === 'string' && typeof id === 'string' && validTimestamp(at) && UUID.test(id)) {
      return [at, id];
    }
  }
  throw new VigilError(
    'CURSOR_INVALID',
    'The cursor is not one this API handed out; start again without it',
  );
}

function validTimestamp(text: string): boolean {
  const match = TIMESTAMP.exec(text);
  if (!match) return false;
  const [, y, mo, d, h, mi, s] = match.map(Number);
  const date = new Date(Date.UTC(y as number, (mo as number) - 1, d, h, mi, s));
  return (
    date.getUTCFullYear() === y &&
    date.getUTCMonth() === (mo as number) - 1 &&
    date.getUTCDate() === d &&
    date.getUTCHours() === h &&
    date.getUTCMinutes() === mi &&
    date.getUTCSeconds() === s
  );
}
