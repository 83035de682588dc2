// What a client's request goes through before and after the models: which model answers (a named
// model, an alias, or the champion; a canary's candidate for its share of clients), and, once the
// answer is on its way, the work that must never delay it: a shadow candidate scoring a copy, the live
// comparison of both sides, and the sampled prediction log. GraphQL's classify and the Open Inference
// Protocol both come here; the platform's own scoring (evaluation, fitting) goes straight to classify.
import { randomUUID } from 'node:crypto';
import { badInput, notFound } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { type AliasService, CHAMPION, canaryBucket, type ModelRef, refRequest, settingsOf } from './aliases.js';
import type { ClassifyOutcome, ClassifyRequest, ClassifyService } from './classify.js';
import { type LiveComparison, LiveComparisons } from './liveComparison.js';
import type { PredictionLog, ServedRole } from './predictionLog.js';

export interface ServeRequest extends ClassifyRequest {
  /** An alias to answer with; absent (and no ensembleId or artifactId): the champion. */
  model?: string;
  client: string;
}

export interface ServeOutcome extends ClassifyOutcome {
  served: { alias: string | null; role: ServedRole };
  /** Per image: the id of its logged record (for feedback), or null when it was not logged. */
  predictionIds: (string | null)[];
}

export interface RouterSettings {
  /** Share of requests logged when they name a model directly (an alias carries its own). */
  directLogRate: number;
  /** Shadow requests in flight per alias at most; more are skipped and counted rather than queued. */
  shadowInFlight: number;
}

export class Router {
  private readonly live: LiveComparisons;
  private readonly shadowsInFlight = new Map<string, number>();
  private readonly pendingShadows = new Set<Promise<void>>();
  /** Models of aliases this process has started loading ("kind id"). */
  private readonly warming = new Set<string>();

  constructor(
    private readonly classify: ClassifyService,
    private readonly aliases: AliasService,
    private readonly log: PredictionLog,
    metrics: Metrics,
    private readonly settings: RouterSettings,
    private readonly logger: Logger,
  ) {
    this.live = new LiveComparisons(metrics);
  }

  /** Which model answers: the one named, else the alias's target or, for a canary's share of clients, its candidate. */
  async route(request: Pick<ServeRequest, 'model' | 'ensembleId' | 'artifactId' | 'client'>) {
    const direct = request.ensembleId !== undefined || request.artifactId !== undefined;
    if (direct && request.model !== undefined) throw badInput('give model (an alias) or ensembleId or artifactId, not both');
    const name = direct ? null : (request.model ?? CHAMPION);
    const row = name === null ? null : await this.aliases.cached(name);
    if (name !== null && !row && name !== CHAMPION) throw notFound('alias', `"${name}"`);
    const settings = row ? settingsOf(row) : null;
    if (settings) this.warm(settings.target, settings.candidate);
    const onCandidate = settings?.mode === 'CANARY' && canaryBucket(name!, request.client) * 100 < settings.canaryPercent;
    // No champion alias yet: the default ensemble answers, as before aliases existed.
    const ref = settings ? (onCandidate ? settings.candidate! : settings.target) : null;
    const role: ServedRole = name === null ? 'DIRECT' : onCandidate ? 'CANDIDATE' : 'CHAMPION';
    const rate = settings ? settings.logRate : this.settings.directLogRate;
    return { name, settings, target: ref ? refRequest(ref) : { ensembleId: request.ensembleId, artifactId: request.artifactId }, role, rate };
  }

  /** Starts loading an alias's models the first time this process sees them (a moved alias, a new
   *  candidate), so that a canary's first clients and a shadow do not wait for a session under load. */
  private warm(...refs: (ModelRef | null)[]) {
    for (const ref of refs) {
      if (!ref) continue;
      const key = `${ref.kind} ${ref.id}`;
      if (this.warming.has(key)) continue;
      this.warming.add(key);
      this.classify.members(refRequest(ref)).catch((error: unknown) => {
        this.warming.delete(key);
        this.logger.warn({ err: error, model: ref }, "could not load an alias's model");
      });
    }
  }

  /** A client's model inputs, preprocessed by the client: routed as images are, but neither logged nor
   *  shadowed (there is no crop to log or to preprocess for another model). */
  async serveTensors(
    request: Pick<ServeRequest, 'model' | 'ensembleId' | 'artifactId' | 'client'>,
    data: Float32Array,
    shape: number[],
  ): Promise<ServeOutcome> {
    const started = performance.now();
    const { name, target, role } = await this.route(request);
    const outcome = await this.classify.scoreTensors({ ...target, client: request.client }, data, shape);
    if (name !== null) this.live.record(name, role, outcome, performance.now() - started);
    return { ...outcome, served: { alias: name, role }, predictionIds: outcome.results.map(() => null) };
  }

  async serve(request: ServeRequest): Promise<ServeOutcome> {
    const started = performance.now();
    const { name, settings, target, role, rate } = await this.route(request);
    const outcome = await this.classify.classify({ ...request, ...target });
    const latencyMs = performance.now() - started;

    const at = new Date();
    const predictionIds = request.images.map(({ image, bbox }, index) => {
      if (!(rate > 0 && Math.random() < rate)) return null;
      const id = randomUUID();
      const taken = this.log.offer({
        id,
        alias: name,
        role,
        target: outcome.target,
        client: request.client,
        image,
        bbox,
        tasks: outcome.results[index]!,
        latencyMs,
        at,
      });
      return taken ? id : null;
    });
    if (name !== null) this.live.record(name, role, outcome, latencyMs);
    if (settings?.mode === 'SHADOW' && settings.candidate) this.shadow(name!, settings.candidate, request, outcome, predictionIds);
    return { ...outcome, served: { alias: name, role }, predictionIds };
  }

  /** Scores a copy with the candidate off the answer path, at most `shadowInFlight` at once per alias,
   *  under a client name of its own so the fair queues give it one client's share and no more. */
  private shadow(alias: string, candidate: ModelRef, request: ServeRequest, answer: ClassifyOutcome, predictionIds: (string | null)[]) {
    const inFlight = this.shadowsInFlight.get(alias) ?? 0;
    if (inFlight >= this.settings.shadowInFlight) {
      this.live.shadowMissed(alias, 'busy');
      return;
    }
    this.shadowsInFlight.set(alias, inFlight + 1);
    const work = (async () => {
      await new Promise((resolve) => setImmediate(resolve));
      const started = performance.now();
      const { images } = request;
      const copy = await this.classify.score({ images, ...refRequest(candidate), client: `shadow ${alias}` });
      const latencyMs = performance.now() - started;
      this.live.record(alias, 'SHADOW', copy, latencyMs);
      this.live.shadowed(alias, answer.results, copy.results);
      copy.results.forEach((tasks, index) => {
        // The shadow's answer is logged beside each logged answer, under the same id and a suffix.
        const id = predictionIds[index];
        if (id) {
          const { image, bbox } = images[index]!;
          this.log.offer({
            id: `${id}-shadow`,
            alias,
            role: 'SHADOW',
            target: copy.target,
            client: request.client,
            image,
            bbox,
            tasks,
            latencyMs,
            at: new Date(),
          });
        }
      });
    })()
      .catch((error: unknown) => {
        this.live.shadowMissed(alias, 'failed');
        this.logger.warn({ err: error, alias }, 'a shadow candidate failed to score a request');
      })
      .finally(() => {
        this.shadowsInFlight.set(alias, (this.shadowsInFlight.get(alias) ?? 1) - 1);
        this.pendingShadows.delete(work);
      });
    this.pendingShadows.add(work);
  }

  /** Resolves once every shadow started so far has finished (tests, shutdown). */
  async settled() {
    while (this.pendingShadows.size > 0) await Promise.all([...this.pendingShadows]);
  }

  /** Each side's requests, latency and confidence, and the shadow's agreement, since this process started. */
  comparison(alias: string): LiveComparison {
    return this.live.comparison(alias);
  }
}
