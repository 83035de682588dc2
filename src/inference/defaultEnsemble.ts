// Keeps a serving process's default ensemble warm while other processes change it: a replica whose
// default was switched through another replica (or the CLI) would otherwise load the new members on
// the first request that needs them, and /readyz would say "not ready" until someone asked.
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PubSub } from '../pubsub/pubsub.js';
import type { EnsembleService } from './ensembles.js';
import type { ModelPool } from './models.js';

interface Target {
  id: number;
  name: string;
  artifactIds: number[];
}

/**
 * Checks which ensemble is the default every `refreshMs` and whenever an `ensemblesChanged` notice
 * arrives (from this process, or from others through PgPubSub), and loads and warms a new default's
 * members in the background. Ensembles never change their members, so the default's id is all a check
 * compares. Models of earlier defaults stay loaded: switching back is instant, a request may still
 * name them, and releasing a session that a batch might be using would need reference counting that a
 * handful of small models does not repay.
 */
export class DefaultEnsembleWatcher {
  private target: Target | null | undefined;
  /** Why the current target could not be loaded here (a safe message: AppErrors name no paths). */
  private failure?: { ensembleId: number; message: string; at: number };
  private warming?: Promise<void>;
  private checking?: Promise<void>;
  private again = false;
  private timer?: NodeJS.Timeout;
  private notices?: AsyncIterator<unknown>;
  private lastPollError?: string;
  private stopped = false;

  constructor(
    private readonly ensembles: EnsembleService,
    private readonly models: ModelPool,
    private readonly options: { refreshMs: number; log: Logger },
  ) {}

  /** Warms the current default (resolving when it is warm or failed), then follows changes. */
  async start(pubsub: PubSub): Promise<void> {
    await this.check();
    if (this.target) await this.warming;
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => void this.check(), this.options.refreshMs);
    const notices = pubsub.subscribe('ensemblesChanged');
    this.notices = notices;
    void (async () => {
      for (;;) {
        const notice = await notices.next();
        if (notice.done) return;
        void this.check();
      }
    })();
  }

  /** Stops following; resolves once no check is running, so nothing starts loading a model after the
   *  pool is closed (a model already loading is settled by ModelPool.close). */
  async stop() {
    this.stopped = true;
    clearInterval(this.timer);
    await this.notices?.return?.();
    await this.checking;
  }

  /** Why this replica cannot serve an ensemble's members, if loading them failed. */
  failureFor(ensembleId: number): string | undefined {
    return this.failure?.ensembleId === ensembleId ? this.failure.message : undefined;
  }

  /** One check at a time; a check asked for meanwhile runs once after it (notices come in bursts). */
  check(): Promise<void> {
    if (this.checking) {
      this.again = true;
      return this.checking;
    }
    this.checking = (async () => {
      do {
        this.again = false;
        // A database that does not answer is said once per distinct error; the next check tries again.
        await this.checkOnce().then(
          () => (this.lastPollError = undefined),
          (error: unknown) => {
            const message = error instanceof Error ? error.message : String(error);
            if (message !== this.lastPollError) this.options.log.warn({ err: error }, 'could not check which ensemble is the default');
            this.lastPollError = message;
          },
        );
      } while (this.again);
    })().finally(() => (this.checking = undefined));
    return this.checking;
  }

  private async checkOnce() {
    if (this.stopped) return;
    const current = await this.ensembles.getDefault();
    const unchanged = this.target !== undefined && (this.target?.id ?? null) === (current?.id ?? null);
    // A default whose members failed to load is tried again every ten checks (a file may have come
    // back), not on each: checking a large graph's sha256 every few seconds would be a busy loop.
    const retry = current !== null && this.failure?.ensembleId === current.id && Date.now() - this.failure.at >= 10 * this.options.refreshMs;
    if (unchanged && !retry) return;
    if (!current) {
      this.target = null;
      this.failure = undefined;
      return;
    }
    const target: Target =
      unchanged && this.target
        ? this.target
        : { id: current.id, name: current.name, artifactIds: (await this.ensembles.members(current.id)).map((m) => m.artifactId) };
    if (!unchanged)
      this.options.log.info({ ensembleId: target.id, name: target.name, artifactIds: target.artifactIds }, 'the default ensemble changed; warming its models');
    if (this.stopped) return;
    this.target = target;
    this.warming = this.warm(target);
  }

  private async warm(target: Target) {
    const started = performance.now();
    try {
      await Promise.all(target.artifactIds.map((id) => this.models.get(id)));
      if (this.target !== target) return;
      if (this.failure?.ensembleId === target.id) this.failure = undefined;
      this.options.log.info({ ensembleId: target.id, ms: Math.round(performance.now() - started) }, 'the default ensemble is warm');
    } catch (error) {
      if (this.target !== target) return;
      const message = error instanceof AppError ? error.message : 'its models could not be loaded (see the server log)';
      if (this.failure?.message !== message) this.options.log.error({ err: error, ensembleId: target.id }, 'could not warm the default ensemble');
      this.failure = { ensembleId: target.id, message, at: Date.now() };
    }
  }
}
