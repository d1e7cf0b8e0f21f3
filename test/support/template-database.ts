import pg from 'pg';
import { migrate } from '../../src/db/migrate.ts';

/** Creates `vigil_template_<pid>`, migrated to the latest schema, for test files to copy. */
export async function prepareTemplateDatabase(adminUrl: string): Promise<string> {
  const name = `vigil_template_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${name}`);
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  await migrate(url.toString());
  return name;
}
