import type { Config } from '../config/config.ts';
import { openDatabase } from '../db/database.ts';
import { migrate, migrationStatus } from '../db/migrate.ts';

/** `vigil migrate [--status]`. Returns the exit code. */
export async function migrateCommand(
  config: Config,
  options: { status?: boolean },
): Promise<number> {
  const database = await openDatabase(config);
  try {
    if (options.status) {
      const statuses = await migrationStatus(database.url);
      for (const s of statuses) {
        const when = s.appliedAt ? s.appliedAt.toISOString() : '';
        const file = `${String(s.version).padStart(4, '0')}_${s.name}.sql`;
        process.stdout.write(`${`${s.state.padEnd(8)} ${file.padEnd(40)} ${when}`.trimEnd()}\n`);
      }
      return statuses.every((s) => s.state === 'applied') ? 0 : 1;
    }
    const applied = await migrate(database.url);
    if (applied.length === 0) process.stdout.write('Nothing to apply: the schema is current.\n');
    for (const file of applied) process.stdout.write(`applied  ${file.fileName}\n`);
    return 0;
  } finally {
    await database.stop();
  }
}
