// Composition root: opens the database and builds the services once; the server and the CLI share it.
import type { AppConfig } from './config.js';
import type { Services } from './context.js';
import { DatasetService } from './data/datasets.js';
import { openDatabase } from './db/client.js';
import { createLogger, type Logger } from './log.js';
import { TrainingService } from './training/service.js';

export interface App {
  config: AppConfig;
  services: Services;
  log: Logger;
  close(): Promise<void>;
}

export async function openApp(config: AppConfig): Promise<App> {
  const db = await openDatabase(config.databaseUrl);
  const log = createLogger(config);
  const training = new TrainingService(db, { dataDir: config.dataDir, python: config.python, concurrency: config.trainingConcurrency }, log);
  await training.interruptOrphans();
  const services: Services = {
    db,
    datasets: new DatasetService(db),
    importContext: { db, imageLimits: config.imageLimits, concurrency: config.importConcurrency },
    training,
  };
  return {
    config,
    services,
    log,
    async close() {
      await training.close();
      await db.$disconnect();
    },
  };
}
