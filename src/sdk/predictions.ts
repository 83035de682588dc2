// The SDK's batch prediction jobs: start one over a dataset, follow it, cancel or resume it, and download
// its table (CSV or JSON lines) over HTTP with the client's token. FashionHowClient inherits them.
import { writeFile } from 'node:fs/promises';
import {
  CancelPredictionJobDocument,
  PredictDatasetDocument,
  type PredictDatasetInput,
  PredictionJobDocument,
  type PredictionJobFieldsFragment,
  PredictionJobsDocument,
  ResumePredictionJobDocument,
  type RunStatus,
} from './generated.js';
import { RegistryClient } from './registry.js';
import { sleep } from './transport.js';
import { FashionHowError } from './types.js';

const OPEN: RunStatus[] = ['QUEUED', 'RUNNING'];

export class PredictionClient extends RegistryClient {
  /** Queues a job that scores every item of a dataset with one model (an alias, an ensemble or an artifact). A trainer token. */
  async predictDataset(input: PredictDatasetInput) {
    return (await this.request(PredictDatasetDocument, { input })).predictDataset;
  }

  async predictionJob(id: string) {
    return (await this.request(PredictionJobDocument, { id })).predictionJob;
  }

  async predictionJobs(filter: { datasetId?: string; status?: RunStatus[]; first?: number } = {}) {
    return (await this.request(PredictionJobsDocument, filter)).predictionJobs;
  }

  async cancelPredictionJob(id: string) {
    return (await this.request(CancelPredictionJobDocument, { id })).cancelPredictionJob;
  }

  async resumePredictionJob(id: string) {
    return (await this.request(ResumePredictionJobDocument, { id })).resumePredictionJob;
  }

  /** Resolves with the job once it is final (polling every `pollMs`), calling onProgress with each reading. */
  async waitForPredictionJob(
    id: string,
    options: { timeoutMs?: number; pollMs?: number; onProgress?: (job: PredictionJobFieldsFragment) => void } = {},
  ): Promise<PredictionJobFieldsFragment> {
    const deadline = Date.now() + (options.timeoutMs ?? 3_600_000);
    for (;;) {
      const job = await this.predictionJob(id);
      if (!job) throw new FashionHowError('NOT_FOUND', `prediction job ${id} does not exist`);
      options.onProgress?.(job);
      if (!OPEN.includes(job.status)) return job;
      if (Date.now() > deadline) throw new FashionHowError('TIMEOUT', `prediction job ${id} is still ${job.status} (${job.itemsDone}/${job.itemCount})`);
      await sleep(options.pollMs ?? 1000);
    }
  }

  /** A finished job's table as bytes (CSV or JSON lines), fetched with this client's token; written to `file` when given. */
  async predictionTable(id: string, format: 'csv' | 'jsonl' = 'csv', file?: string): Promise<Buffer> {
    const url = new URL(`/predictions/${encodeURIComponent(id)}/table.${format}`, this.endpoint);
    const response = await fetch(url, { headers: this.token ? { authorization: `Bearer ${this.token}` } : {} });
    if (!response.ok) {
      const body = (await response.json().catch(() => null)) as { errors?: { message: string; extensions?: { code?: string } }[] } | null;
      const error = body?.errors?.[0];
      throw new FashionHowError(error?.extensions?.code ?? 'HTTP_ERROR', error?.message ?? `GET ${url.pathname} answered ${response.status}`);
    }
    const bytes = Buffer.from(await response.arrayBuffer());
    if (file) await writeFile(file, bytes);
    return bytes;
  }
}
