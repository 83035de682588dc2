// What every resolver receives: the services, built once per server, never per request.
import type { AppConfig } from './config.js';
import type { DatasetService } from './data/datasets.js';
import type { ImportContext } from './data/import.js';
import type { Db } from './db/client.js';
import type { TrainingService } from './training/service.js';

export interface Services {
  db: Db;
  datasets: DatasetService;
  /** What importDataset needs besides the request. */
  importContext: ImportContext;
  training: TrainingService;
}

export interface Context {
  config: AppConfig;
  services: Services;
}
