import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.ts';
import { prepareTemplateDatabase } from './template-database.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A server URL (database `postgres`) on which test files may create databases. */
    adminUrl: string;
    /** The database, fully migrated, that each test file copies. */
    templateDatabase: string;
  }
}

/**
 * One PostgreSQL for the whole run: the server at DATABASE_URL when set, otherwise an embedded one in a
 * fresh folder under the system temp directory (which the `postgres` user can enter even when the
 * checkout sits in a folder it cannot). Each test file then copies a migrated template database.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let adminUrl: string;
  let stop = async () => {};
  const external = process.env.DATABASE_URL;
  if (external) {
    const url = new URL(external);
    url.pathname = '/postgres';
    adminUrl = url.toString();
  } else {
    const home = await mkdtemp(join(tmpdir(), 'vigil-test-'));
    const db = await startEmbeddedPostgres({ home, allowAttach: false });
    const url = new URL(db.url);
    url.pathname = '/postgres';
    adminUrl = url.toString();
    stop = async () => {
      await db.stop();
      await rm(home, { recursive: true, force: true });
    };
  }
  const templateDatabase = await prepareTemplateDatabase(adminUrl);
  project.provide('adminUrl', adminUrl);
  project.provide('templateDatabase', templateDatabase);
  return stop;
}
