import { type Config, ConfigError, loadConfig } from '../config/config.ts';
import { openDatabase } from '../db/database.ts';
import { migrationStatus } from '../db/migrate.ts';
import { messageOf } from '../errors.ts';

/**
 * `vigil doctor`: each check on its own line, `ok` or `problem` with what to do. Exit code 1 when any
 * check found a problem. It never prints a secret.
 */
export async function doctor(): Promise<number> {
  const out = (ok: boolean, what: string) => {
    process.stdout.write(`${ok ? 'ok     ' : 'problem'}  ${what}\n`);
    return ok;
  };
  let config: Config;
  try {
    config = loadConfig();
    out(true, 'configuration is valid');
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const line of error.message.split('\n')) out(false, `configuration: ${line}`);
    return 1;
  }

  let healthy = true;
  let database: Awaited<ReturnType<typeof openDatabase>>;
  try {
    database = await openDatabase(config);
    out(true, `database reachable: ${database.description}`);
  } catch (error) {
    out(false, messageOf(error));
    return 1;
  }
  try {
    const statuses = await migrationStatus(database.url);
    const pending = statuses.filter((s) => s.state === 'pending');
    const changed = statuses.filter((s) => s.state === 'changed');
    const missing = statuses.filter((s) => s.state === 'missing');
    const name = (s: { version: number; name: string }) =>
      `${String(s.version).padStart(4, '0')}_${s.name}.sql`;
    if (changed.length > 0) {
      healthy = out(
        false,
        `migrations edited after they were applied: ${changed.map(name).join(', ')}; restore them`,
      );
    }
    if (missing.length > 0) {
      healthy = out(
        false,
        `the database has migrations this build lacks: ${missing.map(name).join(', ')}; ` +
          'run a newer build',
      );
    }
    if (pending.length > 0) {
      healthy = out(
        false,
        `${pending.length} migration(s) pending: ${pending.map(name).join(', ')}; ` +
          'run `vigil migrate` (or `vigil start`, which applies them)',
      );
    }
    if (changed.length + missing.length + pending.length === 0) {
      out(true, `migrations current (${statuses.length} applied)`);
    }
  } catch (error) {
    healthy = out(false, `could not read the migration state: ${messageOf(error)}`);
  } finally {
    await database.stop();
  }
  return healthy ? 0 : 1;
}
