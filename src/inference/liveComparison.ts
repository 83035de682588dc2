// Both sides of each alias as this process has seen them since it started: per side (role and model),
// requests, images, latency and top-1 confidence per task; per shadow, what it scored, skipped and
// failed, and how often its top class agreed with the answer. The same figures go to /metrics, where
// Prometheus sums them over replicas.
import type { Metrics } from '../metrics.js';
import { argmax } from '../numeric.js';
import type { ModelRef } from './aliases.js';
import type { ClassifyOutcome, TaskResult } from './classify.js';
import type { ServedRole } from './predictionLog.js';

export interface TaskValue {
  task: string;
  value: number;
}

interface Side {
  role: ServedRole;
  model: ModelRef & { name: string };
  /** The tasks' names, in order. */
  tasks: string[];
  requests: number;
  images: number;
  latencyMs: number;
  confidence: number[];
}

interface AliasFigures {
  sides: Map<string, Side>;
  shadow: { scored: number; skipped: number; failed: number; images: number; tasks: string[]; agree: number[] };
}

export interface LiveComparison {
  alias: string;
  sides: { role: ServedRole; model: ModelRef & { name: string }; requests: number; images: number; meanLatencyMs: number; confidence: TaskValue[] }[];
  shadow: { scored: number; skipped: number; failed: number; agreement: TaskValue[] };
}

const perTask = (tasks: string[], values: number[], count: number) => tasks.map((task, t) => ({ task, value: (values[t] ?? 0) / Math.max(1, count) }));

export class LiveComparisons {
  private readonly figures = new Map<string, AliasFigures>();

  constructor(private readonly metrics: Metrics) {}

  private of(alias: string): AliasFigures {
    let figures = this.figures.get(alias);
    if (!figures) {
      figures = { sides: new Map(), shadow: { scored: 0, skipped: 0, failed: 0, images: 0, tasks: [], agree: [] } };
      this.figures.set(alias, figures);
    }
    return figures;
  }

  /** One answered (or shadow-scored) request. */
  record(alias: string, role: ServedRole, outcome: Pick<ClassifyOutcome, 'target' | 'results'>, latencyMs: number) {
    const { target, results } = outcome;
    const key = `${role} ${target.kind} ${target.id}`;
    const figures = this.of(alias);
    let side = figures.sides.get(key);
    if (!side) {
      side = {
        role,
        model: { kind: target.kind, id: target.id, name: target.name },
        tasks: results[0]?.map((task) => task.task) ?? [],
        requests: 0,
        images: 0,
        latencyMs: 0,
        confidence: [],
      };
      figures.sides.set(key, side);
    }
    side.requests++;
    side.images += results.length;
    side.latencyMs += latencyMs;
    this.metrics.aliasImages.inc({ alias, role }, results.length);
    this.metrics.aliasSeconds.observe({ alias, role }, latencyMs / 1000);
    for (const tasks of results) {
      tasks.forEach((task, t) => {
        const confidence = Math.max(...task.probabilities);
        side.confidence[t] = (side.confidence[t] ?? 0) + confidence;
        this.metrics.aliasConfidence.observe({ alias, role, task: task.task }, confidence);
      });
    }
  }

  /** A shadow's copy of an answer: whether its top class agreed, per image and task. */
  shadowed(alias: string, answer: TaskResult[][], copy: TaskResult[][]) {
    const { shadow } = this.of(alias);
    shadow.scored++;
    shadow.images += copy.length;
    if (shadow.tasks.length === 0 && copy[0]) shadow.tasks = copy[0].map((task) => task.task);
    copy.forEach((tasks, index) => {
      tasks.forEach((task, t) => {
        const agree = argmax(task.probabilities) === argmax(answer[index]![t]!.probabilities);
        shadow.agree[t] = (shadow.agree[t] ?? 0) + (agree ? 1 : 0);
        this.metrics.shadowAgreement.inc({ alias, task: task.task, agree: String(agree) });
      });
    });
  }

  /** A request the shadow did not score: too many in flight (busy), or it failed. */
  shadowMissed(alias: string, reason: 'busy' | 'failed') {
    const { shadow } = this.of(alias);
    if (reason === 'busy') shadow.skipped++;
    else shadow.failed++;
    this.metrics.shadowSkipped.inc({ alias, reason });
  }

  comparison(alias: string): LiveComparison {
    const { sides, shadow } = this.of(alias);
    return {
      alias,
      sides: [...sides.values()].map((side) => ({
        role: side.role,
        model: side.model,
        requests: side.requests,
        images: side.images,
        meanLatencyMs: side.latencyMs / side.requests,
        confidence: perTask(side.tasks, side.confidence, side.images),
      })),
      shadow: { scored: shadow.scored, skipped: shadow.skipped, failed: shadow.failed, agreement: perTask(shadow.tasks, shadow.agree, shadow.images) },
    };
  }
}
