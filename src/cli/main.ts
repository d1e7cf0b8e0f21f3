import { Command } from 'commander';
import { ConfigError, loadConfig } from '../config/config.ts';
import { isVigilError } from '../errors.ts';
import { createLogger } from '../observability/logger.ts';
import { doctor } from './doctor.ts';
import { registerKeyCommands } from './keys.ts';
import { migrateCommand } from './migrate.ts';
import { start } from './start.ts';

/**
 * The `vigil` command. Failures a person can fix (bad configuration, unreachable database, refused
 * migration) end with one line on stderr, `vigil: <what is wrong>`, and exit code 1.
 */
const program = new Command('vigil')
  .description('Self-hostable web3 automation: workflows that run durably, recorded step by step.')
  .showHelpAfterError();

program
  .command('start')
  .description('run everything in one process: HTTP API, workers, scheduler, chain watcher')
  .action(async () => {
    const config = loadConfig();
    await start(config, createLogger({ level: config.logLevel }));
  });

program
  .command('migrate')
  .description('apply pending database migrations')
  .option('--status', 'list applied and pending migrations instead of applying them')
  .action(async (options: { status?: boolean }) => {
    const config = loadConfig();
    process.exitCode = await migrateCommand(config, options);
  });

program
  .command('doctor')
  .description('check the configuration, the database connection and the migration state')
  .action(async () => {
    process.exitCode = await doctor();
  });

registerKeyCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof ConfigError || isVigilError(error)) {
    process.stderr.write(`vigil: ${error.message.split('\n').join('\nvigil: ')}\n`);
  } else {
    process.stderr.write(`vigil: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
  }
  process.exit(1);
}
