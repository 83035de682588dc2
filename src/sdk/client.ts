// The typed fashion-how client. Operation types are generated from schema.graphql and
// src/sdk/operations.graphql; nothing here restates a response shape by hand.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { collect, walk } from './connections.js';
import { followImportProgress, followRunUpdates } from './follow.js';
import {
  ApplyLabelReviewDocument,
  type ArtifactFilter,
  ArtifactsPageDocument,
  CancelSweepDocument,
  ClassifyDocument,
  CreateEnsembleDocument,
  type CreateEnsembleInput,
  CrossValidationDocument,
  type DatasetFilter,
  DatasetItemsPageDocument,
  DatasetsPageDocument,
  type EnsembleFilter,
  EnsemblesPageDocument,
  EvaluateDocument,
  type EvaluateInput,
  FindLabelIssuesDocument,
  type FindLabelIssuesInput,
  FitEnsembleDocument,
  type FitEnsembleInput,
  HealthDocument,
  type HealthQuery,
  ImportDatasetDocument,
  type ImportDatasetInput,
  ImportModelDocument,
  type ImportProgressSubscription,
  type ItemFilter,
  type LabelDecision,
  LabelIssueScanDocument,
  ModelCardDocument,
  QuantizeArtifactDocument,
  type QuantizeArtifactInput,
  ReportDocument,
  type ReportFilter,
  ReportPredictionsPageDocument,
  type ReportPredictionsPageQueryVariables,
  ReportsPageDocument,
  ReviewLabelIssueDocument,
  RunDocument,
  type RunFieldsFragment,
  type RunFilter,
  RunsPageDocument,
  SaliencyDocument,
  StartSweepDocument,
  type StartSweepInput,
  StartTrainingDocument,
  type StartTrainingInput,
  SweepDocument,
  type SweepFieldsFragment,
  SweepsDocument,
  type TokenFilter,
  TokensPageDocument,
  TuneArtifactDocument,
  UploadDatasetDocument,
  type UploadDatasetInput,
} from './generated.js';
import { withArchive } from './pack.js';
import { PredictionClient } from './predictions.js';
import { sleep } from './transport.js';
import {
  type Classification,
  type ClassifyOptions,
  type ClientOptions,
  FashionHowError,
  type ImageInput,
  type PageOptions,
  type WaitOptions,
} from './types.js';
import { requestChunks } from './wire.js';

export type * from './generated.js';

export class FashionHowClient extends PredictionClient {
  readonly webSocketEndpoint: string | false;
  private readonly imageEncoding: 'multipart' | 'base64';
  private limits?: HealthQuery['health']['limits'];

  constructor(options: ClientOptions = {}) {
    super(options);
    this.webSocketEndpoint = options.webSocketEndpoint ?? this.endpoint.replace(/^http/, 'ws');
    this.imageEncoding = options.imageEncoding ?? 'multipart';
  }

  async health() {
    return (await this.request(HealthDocument)).health;
  }

  /** Every dataset (walks datasetsConnection). */
  async datasets() {
    return collect(this.iterateDatasets());
  }

  iterateDatasets(filter?: DatasetFilter, options: PageOptions = {}) {
    return walk(
      async (after) => (await this.request(DatasetsPageDocument, { first: options.pageSize, after, filter, order: options.order })).datasetsConnection,
    );
  }

  /** From an allowed bucket (bucket: s3://...), or server paths with an admin token; local files: uploadDataset. */
  async importDataset(input: ImportDatasetInput) {
    return (await this.request(ImportDatasetDocument, { input })).importDataset;
  }

  async startTraining(input: StartTrainingInput) {
    return (await this.request(StartTrainingDocument, { input })).startTraining;
  }

  /** Starts a sweep: its trials are queued at once, and trained by the server or its worker hosts. */
  async startSweep(input: StartSweepInput) {
    return (await this.request(StartSweepDocument, { input })).startSweep;
  }

  async sweep(id: string) {
    return (await this.request(SweepDocument, { id })).sweep;
  }

  async sweeps(datasetId?: string) {
    return (await this.request(SweepsDocument, { datasetId })).sweeps;
  }

  async cancelSweep(id: string) {
    return (await this.request(CancelSweepDocument, { id })).cancelSweep;
  }

  /** Resolves with the sweep once every trial has ended (polling; a sweep's trials end minutes apart). */
  async waitForSweep(id: string, options: Omit<WaitOptions, 'onProgress'> & { onProgress?: (sweep: SweepFieldsFragment) => void } = {}) {
    const deadline = Date.now() + (options.timeoutMs ?? 7 * 24 * 3600 * 1000);
    for (;;) {
      const sweep = await this.sweep(id);
      options.onProgress?.(sweep);
      if (sweep.status === 'FINISHED') return sweep;
      if (Date.now() > deadline)
        throw new FashionHowError(
          'TIMEOUT',
          `sweep ${id} did not finish in time (${sweep.trials.filter((t) => t.run.status === 'RUNNING').length} trials running)`,
        );
      await sleep(options.pollMs ?? 2000);
    }
  }

  /** A cross-validation: its fold runs, out-of-fold figures and fold ensemble. */
  async crossValidation(id: string) {
    return (await this.request(CrossValidationDocument, { id })).crossValidation;
  }

  async run(id: string) {
    return (await this.request(RunDocument, { id })).run;
  }

  /** Every run that matches the filter, oldest first (walks runsConnection). */
  async runs(filter?: RunFilter) {
    return collect(this.iterateRuns(filter));
  }

  /** The runs that match the filter, one page per request: `for await (const run of client.iterateRuns())`. */
  iterateRuns(filter?: RunFilter, options: PageOptions = {}) {
    return walk(async (after) => (await this.request(RunsPageDocument, { first: options.pageSize, after, filter, order: options.order })).runsConnection);
  }

  /** Reports, newest first unless `order` says otherwise (an ensemble's member reports come with its report). */
  iterateReports(filter?: ReportFilter, options: PageOptions = {}) {
    return walk(async (after) => (await this.request(ReportsPageDocument, { first: options.pageSize, after, filter, order: options.order })).reportsConnection);
  }

  iterateArtifacts(filter?: ArtifactFilter, options: PageOptions = {}) {
    return walk(
      async (after) => (await this.request(ArtifactsPageDocument, { first: options.pageSize, after, filter, order: options.order })).artifactsConnection,
    );
  }

  iterateEnsembles(filter?: EnsembleFilter, options: PageOptions = {}) {
    return walk(
      async (after) => (await this.request(EnsemblesPageDocument, { first: options.pageSize, after, filter, order: options.order })).ensemblesConnection,
    );
  }

  /** API tokens (needs an admin token). */
  iterateTokens(filter?: TokenFilter, options: PageOptions = {}) {
    return walk(async (after) => (await this.request(TokensPageDocument, { first: options.pageSize, after, filter, order: options.order })).tokensConnection);
  }

  /**
   * Resolves with the run once it has ended. Follows the runUpdated subscription over the WebSocket,
   * and polls instead when the WebSocket cannot connect or drops (a proxy that blocks WebSockets).
   */
  async waitForRun(id: string, options: WaitOptions = {}): Promise<RunFieldsFragment> {
    const deadline = Date.now() + (options.timeoutMs ?? 24 * 3600 * 1000);
    const timeout = (status: string) => new FashionHowError('TIMEOUT', `run ${id} did not finish in time (status ${status})`);
    if (this.webSocketEndpoint) {
      const followed = await this.followRun(id, deadline, options.onProgress);
      if (followed.ended) return followed.ended;
      if (followed.timedOut) throw timeout(followed.last?.status ?? 'unknown');
    }
    for (;;) {
      const run = await this.run(id);
      options.onProgress?.(run);
      if (!run.cancellable) return run; // a run that can no longer be cancelled has ended
      if (Date.now() > deadline) throw timeout(run.status);
      await sleep(options.pollMs ?? 1000);
    }
  }

  /** The run's updates over graphql-ws until it ends; { ended: undefined } when the socket failed. */
  private followRun(id: string, deadline: number, onProgress?: (run: RunFieldsFragment) => void) {
    return followRunUpdates(this.webSocketEndpoint as string, this.token, id, deadline, onProgress);
  }

  async createEnsemble(input: CreateEnsembleInput) {
    return (await this.request(CreateEnsembleDocument, { input })).createEnsemble;
  }

  /** An ensemble fitted on a split (greedy selection, temperatures, optional logit adjustment); takes as long as scoring every candidate there. */
  async fitEnsemble(input: FitEnsembleInput) {
    return (await this.request(FitEnsembleDocument, { input })).fitEnsemble;
  }

  async evaluate(input: EvaluateInput) {
    return (await this.request(EvaluateDocument, { input })).evaluate;
  }

  /** INT8 from an fp32 artifact, calibrated and scored on the server (about a minute per model). */
  async quantizeArtifact(input: QuantizeArtifactInput) {
    return (await this.request(QuantizeArtifactDocument, { input })).quantizeArtifact;
  }

  /** Times session options for an artifact on the server's host and keeps the fastest there. */
  async tuneArtifact(id: string) {
    return (await this.request(TuneArtifactDocument, { id })).tuneArtifact;
  }

  async report(id: string) {
    return (await this.request(ReportDocument, { id })).report;
  }

  /** A dataset's items that match the filter, in line order, with their labels and crop URLs. */
  iterateItems(datasetId: string, filter?: ItemFilter, options: Omit<PageOptions, 'order'> = {}) {
    return walk(async (after) => (await this.request(DatasetItemsPageDocument, { datasetId, first: options.pageSize, after, filter })).dataset.items);
  }

  /** A report's predictions of one task (one confusion cell with trueClass and predictedClass), with their items. */
  iterateReportPredictions(
    reportId: string,
    query: Omit<ReportPredictionsPageQueryVariables, 'reportId' | 'first' | 'after'>,
    options: Omit<PageOptions, 'order'> = {},
  ) {
    return walk(
      async (after) => (await this.request(ReportPredictionsPageDocument, { reportId, ...query, first: options.pageSize, after })).report.predictions,
    );
  }

  /** Likely mislabels by confident learning, from a cross-validation's out-of-fold predictions or a model on a held-out split. */
  async findLabelIssues(input: FindLabelIssuesInput) {
    return (await this.request(FindLabelIssuesDocument, { input })).findLabelIssues;
  }

  /** A scan and its suspects (most suspect first within each task). */
  async labelIssueScan(id: string, filter: { task?: number; decision?: LabelDecision; limit?: number; offset?: number } = {}) {
    return (await this.request(LabelIssueScanDocument, { id, ...filter })).labelIssueScan;
  }

  async reviewLabelIssue(id: string, decision: LabelDecision, classIndex?: number) {
    return (await this.request(ReviewLabelIssueDocument, { id, decision, classIndex })).reviewLabelIssue;
  }

  /** The reviewed labels as a new version of the dataset. */
  async applyLabelReview(scanId: string, name?: string) {
    return (await this.request(ApplyLabelReviewDocument, { scanId, name })).applyLabelReview;
  }

  /** The report's model card: one self-contained HTML document to save or share (the CLI's `report ID --html`). */
  async modelCard(reportId: string): Promise<string> {
    return (await this.request(ModelCardDocument, { id: reportId })).report.modelCard;
  }

  /**
   * Classifies any number of images: they are sent in requests that fit the server's per-request
   * image limit (and body size), a few at a time, and the answers come back in input order.
   */
  async classify(images: ImageInput[], options: ClassifyOptions = {}): Promise<Classification[]> {
    this.limits ??= (await this.health()).limits;
    const multipart = this.imageEncoding === 'multipart';
    const encoded = await Promise.all(
      images.map(async ({ image, bbox }) => {
        const bytes = typeof image === 'string' ? await readFile(image) : image;
        return multipart
          ? { file: new Blob([bytes]), bbox, size: bytes.length }
          : { image: Buffer.from(bytes).toString('base64'), bbox, size: Math.ceil(bytes.length / 3) * 4 };
      }),
    );
    const chunks = requestChunks(encoded, this.limits.maxClassifyImages, multipart ? Number.POSITIVE_INFINITY : this.limits.maxBodyBytes * 0.9);
    const answers: Classification[][] = new Array(chunks.length);
    let next = 0;
    const worker = async () => {
      while (next < chunks.length) {
        const index = next++;
        const { classify } = await this.request(ClassifyDocument, {
          input: {
            images: chunks[index]!,
            model: options.model,
            ensembleId: options.ensembleId,
            artifactId: options.artifactId,
            includeMembers: options.members ?? false,
          },
        });
        answers[index] = classify.results;
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, chunks.length) }, worker));
    return answers.flat().map((result, index) => ({ ...result, index }));
  }

  /**
   * What the model sees of one image and where each task's decision came from: its input crop (a PNG
   * data: URL, exactly as preprocessing makes it) and an occlusion map per task (grid x grid drops of
   * the predicted class's probability, row-major). `grid` is 2 to 16, default 8.
   */
  async saliency({ image, bbox }: ImageInput, options: Omit<ClassifyOptions, 'members' | 'model'> & { grid?: number } = {}) {
    const bytes = typeof image === 'string' ? await readFile(image) : image;
    const encoded = this.imageEncoding === 'multipart' ? { file: new Blob([bytes]) } : { image: Buffer.from(bytes).toString('base64') };
    return (
      await this.request(SaliencyDocument, { input: { ...encoded, bbox, ensembleId: options.ensembleId, artifactId: options.artifactId, grid: options.grid } })
    ).saliency;
  }

  /** Uploads a dataset folder (packed here into a .tar) or archive (.zip, .tar, .tar.gz); a trainer token. */
  async uploadDataset(source: string, input: UploadDatasetInput = {}, onProgress?: (progress: ImportProgressSubscription['importProgress']) => void) {
    const progressId = onProgress && this.webSocketEndpoint ? randomUUID() : undefined;
    const follower = progressId ? followImportProgress(this.webSocketEndpoint as string, this.token, progressId, onProgress!) : undefined;
    try {
      await follower?.ready;
      return await withArchive(
        source,
        async (archive) => (await this.request(UploadDatasetDocument, { archive, input: { ...input, progressId } })).uploadDataset,
      );
    } finally {
      await follower?.stop();
    }
  }

  /** Uploads an ONNX graph and its model.json (paths, bytes, or model.json as an object); the server
   *  checks the graph and runs it once before it registers the artifact. Needs a trainer token. */
  async importModel(name: string, onnx: string | Uint8Array, modelJson: string | Uint8Array | Record<string, unknown>) {
    const bytes = async (source: string | Uint8Array) => new Blob([typeof source === 'string' ? await readFile(source) : source]);
    const json = typeof modelJson === 'string' || modelJson instanceof Uint8Array ? await bytes(modelJson) : new Blob([JSON.stringify(modelJson)]);
    return (await this.request(ImportModelDocument, { input: { name, onnx: await bytes(onnx), modelJson: json } })).importModel;
  }
}
