// Commands that set up or describe an installation and exit: migrate, provision,
// nats-config, hash-password, api-key, openapi.
import { createLogger } from '../../runtime/log.js';
import { migrateAll, provisionNats } from '../../runtime/host.js';
import { natsServerAuthorization } from '../../runtime/nats/permissions.js';
import { databaseName, ensureDatabase } from '../../runtime/pg/index.js';
import { withPostgres } from '../../runtime/engine-error.js';
import { hashSecret } from '../../runtime/secrets.js';
import { newApiKey } from '../../runtime/api-keys.js';
import { openApiDocument } from '../../gateway/merchant-api/openapi.js';
import { COMPONENTS, TOPOLOGY } from '../components.js';
import { exitIfEngineUnavailable, type Command } from '../command.js';

export const migrate: Command = {
  needsConfig: true,
  help: [['migrate', "create the database if it is missing, apply every service's schema migrations, then exit"]],
  async run({ config }) {
    const log = createLogger({ level: config.log.level, component: 'migrate' });
    await withPostgres(config, async () => {
      if (await ensureDatabase(config.postgres.url, config.postgres.connectTimeoutMs)) {
        log.info({ database: databaseName(config.postgres.url) }, 'database created');
      }
      await migrateAll(config, COMPONENTS, log);
    }).catch(exitIfEngineUnavailable);
    log.info('migrations up to date');
  },
};

export const provision: Command = {
  needsConfig: true,
  help: [['provision', 'create or update the JetStream streams, consumers and KV buckets as the NATS',
    'admin user (nats.users.admin), then exit']],
  async run({ config }) {
    const log = createLogger({ level: config.log.level, component: 'provision' });
    await provisionNats(config, log, TOPOLOGY).catch(exitIfEngineUnavailable);
    log.info('JetStream topology up to date');
  },
};

export const natsConfig: Command = {
  needsConfig: false,
  help: [['nats-config', 'print the nats-server authorization block: one user per component, each',
    'allowed only its own subjects (deploy/README.md, "NATS users")']],
  async run() {
    process.stdout.write(natsServerAuthorization(COMPONENTS));
  },
};

export const hashPassword: Command = {
  needsConfig: false,
  help: [['hash-password', 'read a password on stdin, print its scrypt hash for the config']],
  async run() {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    process.stdout.write(`${await hashSecret(Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, ''))}\n`);
  },
};

export const apiKey: Command = {
  needsConfig: false,
  help: [['api-key', 'make an API key: prints the key once, and the entry for merchants[].apiKeys (or operators[].apiKeys)']],
  async run() {
    const { key, stored } = newApiKey();
    process.stdout.write(`key (give it to the merchant or operator; it is not kept): ${key}\n`
      + 'config entry for merchants[].apiKeys (or operators[].apiKeys, the operator API):'
      + ` { id: ${stored.id}, sha256: ${stored.sha256} }\n`);
  },
};

export const openapi: Command = {
  needsConfig: false,
  help: [['openapi', "print the merchant API's OpenAPI 3.1 document (the repo keeps it in gateway/merchant-api/openapi.json)"]],
  async run() {
    process.stdout.write(`${JSON.stringify(openApiDocument(), null, 2)}\n`);
  },
};
