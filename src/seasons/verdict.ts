// Whether a season would accept a model, and why not: the profile's rules applied to what is known of
// the model (members, file size, label space, CPU latency measured on this host). Pure, so the model
// card, the leaderboard, distillation, aliases and the submission command all judge alike.
import type { SeasonProfile } from './profiles.js';

/** What is known of a model (one artifact, or an ensemble's members together). */
export interface ModelFacts {
  /** Models in it: 1 for a single artifact, the members of an ensemble. */
  models: number;
  /** Model files in MB (10^6 bytes), summed over members. */
  sizeMb: number;
  /** Classes per task, in the model's task order; omitted when the dataset declares no profile (its own
   *  label space is then not the season's to judge). */
  classCounts?: number[];
  /** Mean single-image CPU latency measured on this host (ms, summed over members); null when not measured. */
  cpuLatencyMs: number | null;
}

export interface SeasonCheck {
  rule: 'models' | 'size' | 'labels' | 'device' | 'latency';
  ok: boolean;
  detail: string;
}

export interface SeasonVerdict {
  profileId: string;
  accepted: boolean;
  checks: SeasonCheck[];
  /** The failed checks' details, for a one-line "why not". */
  reasons: string[];
}

const mb = (value: number) => `${value.toFixed(1)} MB`;

export function judgeModel(profile: SeasonProfile, facts: ModelFacts): SeasonVerdict {
  const checks: SeasonCheck[] = [];
  if (facts.models > 1 && !profile.ensemblesAllowed) {
    checks.push({ rule: 'models', ok: false, detail: `an ensemble of ${facts.models} models; ${profile.id} allows one model, no ensembles` });
  } else {
    checks.push({
      rule: 'models',
      ok: true,
      detail: `${facts.models} model${facts.models === 1 ? '' : 's'}${profile.ensemblesAllowed ? ' (ensembles allowed)' : ' (one allowed)'}`,
    });
  }
  if (profile.sizeLimitMb !== null) {
    const ok = facts.sizeMb <= profile.sizeLimitMb;
    checks.push({ rule: 'size', ok, detail: `${mb(facts.sizeMb)} ${ok ? 'within' : 'over'} the ${profile.sizeLimitMb} MB limit` });
  } else {
    checks.push({ rule: 'size', ok: true, detail: `${mb(facts.sizeMb)} (no size limit)` });
  }
  if (facts.classCounts) {
    const expected = profile.tasks.map((t) => t.classCount);
    const ok = expected.length === facts.classCounts.length && expected.every((n, t) => facts.classCounts![t] === n);
    checks.push({
      rule: 'labels',
      ok,
      detail: ok ? `label space ${expected.join('/')}` : `label space ${facts.classCounts.join('/')}, the season's is ${expected.join('/')}`,
    });
  }
  if (profile.device === 'cpu') {
    const ok = facts.cpuLatencyMs !== null;
    checks.push({
      rule: 'device',
      ok,
      detail: ok
        ? `runs on CPU (${facts.cpuLatencyMs!.toFixed(2)} ms per image on this host)`
        : 'CPU latency not measured on this host (evaluate the model to measure it)',
    });
  }
  if (profile.latencyLimitMs !== null) {
    const ok = facts.cpuLatencyMs !== null && facts.cpuLatencyMs <= profile.latencyLimitMs;
    checks.push({
      rule: 'latency',
      ok,
      detail:
        facts.cpuLatencyMs === null
          ? `latency not measured; the limit is ${profile.latencyLimitMs} ms per image`
          : `${facts.cpuLatencyMs.toFixed(2)} ms per image on this host, ${ok ? 'within' : 'over'} the ${profile.latencyLimitMs} ms limit`,
    });
  }
  const reasons = checks.filter((c) => !c.ok).map((c) => c.detail);
  return { profileId: profile.id, accepted: reasons.length === 0, checks, reasons };
}

/** "accepted by 2024-subtask1" or "rejected by 2024-subtask1: <reasons>". */
export const describeVerdict = (v: SeasonVerdict) => (v.accepted ? `accepted by ${v.profileId}` : `rejected by ${v.profileId}: ${v.reasons.join('; ')}`);
