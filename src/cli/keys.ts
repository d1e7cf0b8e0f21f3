import type { Command } from 'commander';
import { createApiKey, listApiKeys, revokeApiKey } from '../auth/api-keys.ts';
import { loadConfig } from '../config/config.ts';
import { openDatabase } from '../db/database.ts';
import { migrate } from '../db/migrate.ts';
import { createPool } from '../db/pool.ts';
import { VigilError } from '../errors.ts';

/**
 * `vigil keys create|list|revoke`. Works whether or not `vigil start` runs on the same VIGIL_HOME: it
 * attaches to the running embedded PostgreSQL, or starts it for the duration of the command.
 */
export function registerKeyCommands(program: Command): void {
  const keys = program.command('keys').description('manage organization API keys');

  keys
    .command('create')
    .description('create an API key and print it once')
    .requiredOption('--org <slug>', 'organization slug (a fresh database has "default")')
    .requiredOption('--name <name>', 'what the key is for, e.g. "ci" or "zapier"')
    .option('--expires-in-days <days>', 'expire the key after this many days')
    .action(async (options: { org: string; name: string; expiresInDays?: string }) => {
      let expiresAt: Date | undefined;
      if (options.expiresInDays !== undefined) {
        const days = Number(options.expiresInDays);
        if (!Number.isFinite(days) || days <= 0) {
          throw new VigilError('REQUEST_INVALID', '--expires-in-days must be a positive number');
        }
        expiresAt = new Date(Date.now() + days * 86_400_000);
      }
      await withPool(async (pool) => {
        const key = await createApiKey(pool, {
          organizationSlug: options.org,
          name: options.name.trim(),
          expiresAt,
        });
        process.stdout.write(`${key.key}\n`);
        process.stderr.write(
          `Created key ${key.prefix} "${key.name}" for organization ${options.org}. ` +
            'It is shown once: store it now.\n',
        );
      });
    });

  keys
    .command('list')
    .description("list an organization's keys (prefixes only)")
    .requiredOption('--org <slug>', 'organization slug')
    .action(async (options: { org: string }) => {
      await withPool(async (pool) => {
        for (const key of await listApiKeys(pool, options.org)) {
          const state = key.revokedAt
            ? 'revoked'
            : key.expiresAt && Date.parse(key.expiresAt) < Date.now()
              ? 'expired'
              : 'active';
          process.stdout.write(
            `${key.prefix}  ${state.padEnd(7)}  ${key.createdAt}  ${key.name}\n`,
          );
        }
      });
    });

  keys
    .command('revoke')
    .description('revoke a key by its prefix (the 8 characters after vgl_)')
    .requiredOption('--org <slug>', 'organization slug')
    .argument('<prefix>', 'the key prefix')
    .action(async (prefix: string, options: { org: string }) => {
      await withPool(async (pool) => {
        if (!(await revokeApiKey(pool, options.org, prefix))) {
          throw new VigilError(
            'API_KEY_NOT_FOUND',
            `No active key ${prefix} in organization ${options.org}`,
          );
        }
        process.stdout.write(`Revoked ${prefix}.\n`);
      });
    });
}

async function withPool(
  work: (pool: ReturnType<typeof createPool>) => Promise<void>,
): Promise<void> {
  const config = loadConfig();
  const database = await openDatabase(config);
  const pool = createPool(database.url, { max: 2, applicationName: 'vigil-cli' });
  try {
    await migrate(database.url);
    await work(pool);
  } finally {
    await pool.end();
    await database.stop();
  }
}
