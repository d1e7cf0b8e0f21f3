import pg from 'pg';
import type { Config } from '../config/config.ts';
import { redactDatabaseUrl } from '../config/config.ts';
import { VigilError } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';
import { startEmbeddedPostgres } from './embedded-postgres.ts';

export interface DatabaseHandle {
  url: string;
  /** Where the database is, for messages: the URL without its password, or the embedded data folder. */
  description: string;
  embedded: boolean;
  /** Stops the embedded server when this process started it; a no-op otherwise. */
  stop(): Promise<void>;
}

/**
 * The database Vigil runs on: DATABASE_URL when set, otherwise the embedded PostgreSQL under VIGIL_HOME
 * (started, or attached to when another Vigil process already runs it). Checks the connection, so that a
 * wrong URL fails here with one line instead of later inside a request.
 */
export async function openDatabase(config: Config, logger?: Logger): Promise<DatabaseHandle> {
  if (config.databaseUrl) {
    const description = redactDatabaseUrl(config.databaseUrl);
    await checkConnection(config.databaseUrl, description);
    return { url: config.databaseUrl, description, embedded: false, stop: async () => undefined };
  }
  const log = logger?.child({ component: 'embedded-postgres' });
  const embedded = await startEmbeddedPostgres({
    home: config.home,
    onLog: (line) => log?.debug({ line }, 'postgres'),
  });
  logger?.info(
    { dataDir: embedded.dataDir, attached: !embedded.owned },
    embedded.owned ? 'embedded PostgreSQL started' : 'attached to the running embedded PostgreSQL',
  );
  return {
    url: embedded.url,
    description: `embedded PostgreSQL in ${embedded.dataDir}`,
    embedded: true,
    stop: () => embedded.stop(),
  };
}

export async function checkConnection(url: string, description: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    await client.query('select 1');
  } catch (cause) {
    const reason = (cause as Error).message || (cause as { code?: string }).code || 'unknown error';
    throw new VigilError(
      'DATABASE_UNREACHABLE',
      `Cannot connect to the database at ${description}: ${reason.split('\n')[0]}`,
      { cause },
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}
