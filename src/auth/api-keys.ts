import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { VigilError } from '../errors.ts';

/**
 * Organization API keys: `vgl_<prefix>_<secret>`. The whole key is shown once, at creation; the database
 * keeps its SHA-256 (a fast hash is right for 190 random bits: there is nothing to brute-force) and the
 * prefix, which names the key in lists and logs without revealing it.
 */
const KEY_PATTERN = /^vgl_([A-Za-z0-9]{8})_([A-Za-z0-9_-]{32})$/;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomText(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const byte of bytes) out += ALPHABET[byte % ALPHABET.length];
  return out;
}

export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

export interface CreatedApiKey {
  id: string;
  /** The key itself: shown once, never stored. */
  key: string;
  prefix: string;
  organizationId: string;
  name: string;
  expiresAt: string | null;
}

export async function createApiKey(
  db: pg.Pool,
  params: { organizationSlug: string; name: string; expiresAt?: Date; scopes?: string[] },
): Promise<CreatedApiKey> {
  const org = await db.query<{ id: string; deactivated_at: Date | null }>(
    'select id, deactivated_at from organizations where slug = $1',
    [params.organizationSlug],
  );
  const organization = org.rows[0];
  if (!organization) {
    throw new VigilError(
      'ORGANIZATION_NOT_FOUND',
      `No organization with slug "${params.organizationSlug}"`,
    );
  }
  if (organization.deactivated_at) {
    throw new VigilError(
      'ORGANIZATION_DEACTIVATED',
      `Organization "${params.organizationSlug}" is deactivated`,
    );
  }
  const prefix = randomText(8);
  const key = `vgl_${prefix}_${randomBytes(24).toString('base64url')}`;
  const inserted = await db.query<{ id: string; expires_at: Date | null }>(
    `insert into api_keys (organization_id, name, prefix, key_hash, scopes, expires_at)
     values ($1, $2, $3, $4, $5, $6)
     returning id, expires_at`,
    [
      organization.id,
      params.name,
      prefix,
      hashApiKey(key),
      params.scopes ?? [],
      params.expiresAt ?? null,
    ],
  );
  const row = inserted.rows[0] as { id: string; expires_at: Date | null };
  return {
    id: row.id,
    key,
    prefix,
    organizationId: organization.id,
    name: params.name,
    expiresAt: row.expires_at?.toISOString() ?? null,
  };
}

export interface ApiPrincipal {
  apiKeyId: string;
  organizationId: string;
  scopes: string[];
}

const VERIFY = `
  select k.id, k.organization_id, k.scopes, k.revoked_at, k.expires_at, o.deactivated_at,
         k.last_used_at is null or k.last_used_at < now() - interval '1 minute' as stale_use
  from api_keys k join organizations o on o.id = k.organization_id
  where k.key_hash = $1`;

/**
 * Resolves a presented key to its organization, or throws a 401-class error saying which way it failed
 * (never echoing the key). Revocation and expiry take effect on the next request: nothing is cached.
 */
export async function verifyApiKey(
  db: pg.Pool,
  presented: string | undefined,
): Promise<ApiPrincipal> {
  if (!presented) {
    throw new VigilError(
      'AUTH_REQUIRED',
      'This route needs an API key: send `Authorization: Bearer vgl_...`',
    );
  }
  if (!KEY_PATTERN.test(presented)) {
    throw new VigilError('AUTH_INVALID', 'The API key is not a Vigil key (vgl_<prefix>_<secret>)');
  }
  const result = await db.query<{
    id: string;
    organization_id: string;
    scopes: string[];
    revoked_at: Date | null;
    expires_at: Date | null;
    deactivated_at: Date | null;
    stale_use: boolean;
  }>({ name: 'vigil_verify_api_key', text: VERIFY, values: [hashApiKey(presented)] });
  const row = result.rows[0];
  if (!row) throw new VigilError('AUTH_INVALID', 'The API key is not known');
  if (row.revoked_at) throw new VigilError('AUTH_REVOKED', 'The API key was revoked');
  if (row.expires_at && row.expires_at.getTime() <= Date.now()) {
    throw new VigilError('AUTH_EXPIRED', 'The API key has expired');
  }
  if (row.deactivated_at) {
    throw new VigilError('ORGANIZATION_DEACTIVATED', "The key's organization is deactivated");
  }
  if (row.stale_use) {
    // At most one write a minute per key: last use is for people, not for accounting.
    void db
      .query('update api_keys set last_used_at = now() where id = $1', [row.id])
      .catch(() => undefined);
  }
  return { apiKeyId: row.id, organizationId: row.organization_id, scopes: row.scopes };
}

export async function revokeApiKey(
  db: pg.Pool,
  organizationSlug: string,
  prefix: string,
): Promise<boolean> {
  const result = await db.query(
    `update api_keys k set revoked_at = now()
     from organizations o
     where o.id = k.organization_id and o.slug = $1 and k.prefix = $2 and k.revoked_at is null`,
    [organizationSlug, prefix],
  );
  return result.rowCount === 1;
}

export interface ApiKeySummary {
  prefix: string;
  name: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

export async function listApiKeys(db: pg.Pool, organizationSlug: string): Promise<ApiKeySummary[]> {
  const result = await db.query<{
    prefix: string;
    name: string;
    created_at: Date;
    expires_at: Date | null;
    revoked_at: Date | null;
    last_used_at: Date | null;
  }>(
    `select k.prefix, k.name, k.created_at, k.expires_at, k.revoked_at, k.last_used_at
     from api_keys k join organizations o on o.id = k.organization_id
     where o.slug = $1 order by k.created_at`,
    [organizationSlug],
  );
  return result.rows.map((row) => ({
    prefix: row.prefix,
    name: row.name,
    createdAt: row.created_at.toISOString(),
    expiresAt: row.expires_at?.toISOString() ?? null,
    revokedAt: row.revoked_at?.toISOString() ?? null,
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
  }));
}
