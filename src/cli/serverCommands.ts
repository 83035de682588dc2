// fashion-how token, serve, demo: the server, its tokens, and the whole platform on synthetic data.
import type { Command } from 'commander';
import { type App, openApp } from '../app.js';
import { ROLES } from '../auth/tokens.js';
import { loadConfig } from '../config.js';
import { PROCESS_ID } from '../host.js';
import { runDemo } from './demo.js';
import { table } from './format.js';
import { choice, int } from './options.js';
import { startServer, untilSignal, withApp } from './session.js';

async function serve(app: App, options: { worker: boolean }) {
  const { training } = app.services;
  if (!options.worker && !training.distributed) {
    throw new Error('--no-worker needs PostgreSQL (DATABASE_URL=postgresql://...): with SQLite the server is the one process that trains');
  }
  const server = await startServer(app);
  const adopted = await training.adoptQueued();
  if (adopted.length > 0) console.log(`queued training runs picked up: ${adopted.join(', ')}`);
  const adoptedJobs = await app.services.predictions.adoptQueued();
  if (adoptedJobs.length > 0) console.log(`queued prediction jobs picked up: ${adoptedJobs.join(', ')}`);
  if (options.worker) {
    await training.startWorker();
    await app.services.predictions.startWorker();
  }
  // Races no live server drives (this one's, when it stopped) go on from their last rung (its runs resume
  // or end); and from now on, the races of a server that dies are taken over once its lease lapses.
  const races = await app.services.races.resumeRunning();
  if (races.length > 0) console.log(`races picked up: ${races.join(', ')}`);
  app.services.races.watch();
  if (training.distributed)
    console.log(
      options.worker
        ? `training: this server is also a worker of the PostgreSQL job queue (${PROCESS_ID})`
        : 'training: queued for worker hosts (fashion-how worker); this server trains nothing',
    );
  if ((await app.services.tokens.count()) === 0) {
    console.log('no API tokens yet: mutations need one. Create the first admin token with `fashion-how token create --role admin --name me`');
  }
  await app.warmDefaultEnsemble().catch((error) => app.log.error({ err: error }, 'could not load the default ensemble'));
  console.log(`GraphQL: ${server.graphqlUrl}`);
  await untilSignal();
  await server.close();
}

export function addServerCommands(program: Command): void {
  const token = program.command('token').description('API tokens: create, list, revoke');
  token
    .command('create')
    .description('create a token and print it (shown only once)')
    .requiredOption('--role <role>', `${ROLES.join(' | ')} (any case: READER as in GraphQL works too)`, (raw: string) => choice(ROLES)(raw.toLowerCase()))
    .requiredOption('--name <name>', 'who or what uses it')
    .action((options: { role: string; name: string }) =>
      withApp(async (app) => {
        const created = await app.services.tokens.create(options.name, options.role);
        console.log(created.token);
        console.error(`token ${created.id} (${created.role}) created; send it as "Authorization: Bearer <token>"`);
      }),
    );
  token
    .command('list')
    .description('list tokens (their first characters only)')
    .action(() =>
      withApp(async (app) => {
        const rows = await app.services.tokens.list();
        console.log(
          table(
            ['id', 'name', 'role', 'prefix', 'created', 'last used', 'revoked'],
            rows.map((t) => [t.id, t.name, t.role, t.prefix, t.createdAt.toISOString(), t.lastUsedAt?.toISOString() ?? '', t.revokedAt?.toISOString() ?? '']),
          ),
        );
      }),
    );
  token
    .command('revoke')
    .argument('<id>', 'token id', int('id', 1))
    .action((id: number) =>
      withApp(async (app) => {
        await app.services.tokens.revoke(id);
        console.log(`token ${id} revoked`);
      }),
    );

  program
    .command('serve')
    .description('start the GraphQL server (and the dashboard) on HOST:PORT')
    .option('--port <port>', 'port (default: PORT or 4000)', int('port', 0))
    .option('--no-worker', 'with PostgreSQL: serve only, and leave training jobs to worker hosts')
    .action((options: { port?: number; worker: boolean }) => {
      const config = loadConfig();
      return openApp(options.port === undefined ? config : { ...config, port: options.port }).then(async (app) => {
        try {
          await serve(app, { worker: options.worker });
        } finally {
          await app.close();
        }
      });
    });

  program
    .command('demo')
    .description('the whole platform on synthetic data: generate, import, train two combos, evaluate them and their ensemble, serve')
    .option('--seed <s>', 'random seed (data, split and training)', int('seed', 0), 1)
    .option('--count <n>', 'synthetic items', int('count', 10), 1500)
    .option('--full', "the seed's full recipe: 224 px, resnet152 + densenet161, 3 epochs, batch 64, offline CutMix x4")
    .option('--gpu', 'the full recipe on CUDA')
    .option('--port <port>', 'port (default: PORT or 4000)', int('port', 0))
    .action(async (options: { seed: number; count: number; full?: boolean; gpu?: boolean; port?: number }) => {
      const config = loadConfig();
      const app = await openApp(options.port === undefined ? config : { ...config, port: options.port });
      try {
        const server = await runDemo(app, { seed: options.seed, count: options.count, full: options.full ?? false, gpu: options.gpu ?? false });
        await untilSignal();
        await server.close();
      } finally {
        await app.close();
      }
    });
}
