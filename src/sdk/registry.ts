// The SDK's registry operations: aliases and their rollouts, feedback on logged answers, drift and the
// online report. FashionHowClient inherits them; they need nothing but the transport.
import {
  AliasesDocument,
  CheckDriftDocument,
  type CheckDriftInput,
  DriftTimelineDocument,
  type DriftTimelineInput,
  OnlineReportDocument,
  type OnlineReportInput,
  SetAliasDocument,
  type SetAliasInput,
  SubmitFeedbackDocument,
  type TaskLabelInput,
  UndoAliasChangeDocument,
} from './generated.js';
import { Transport } from './transport.js';

export class RegistryClient extends Transport {
  /** Every alias with its target, candidate, recent history and this server process's live figures. */
  async aliases() {
    return (await this.request(AliasesDocument)).aliases;
  }

  /** Points an alias at a model, with an optional canary or shadow candidate: one recorded change. A trainer token. */
  async setAlias(input: SetAliasInput) {
    return (await this.request(SetAliasDocument, { input })).setAlias;
  }

  /** Reverts the alias's latest change (the rollback). A trainer token. */
  async undoAliasChange(name: string) {
    return (await this.request(UndoAliasChangeDocument, { name })).undoAliasChange;
  }

  /** True labels (a class name per task) for a logged answer (Classification.predictionId). A trainer token. */
  async submitFeedback(predictionId: string, labels: TaskLabelInput[]) {
    return (await this.request(SubmitFeedbackDocument, { predictionId, labels })).submitFeedback;
  }

  /** Computes and stores a drift report over a window of an alias's logged predictions. A trainer token. */
  async checkDrift(input: CheckDriftInput) {
    return (await this.request(CheckDriftDocument, { input })).checkDrift;
  }

  /** Drift over consecutive windows (not stored). */
  async driftTimeline(input: DriftTimelineInput) {
    return (await this.request(DriftTimelineDocument, { input })).driftTimeline;
  }

  /** Evaluate's metrics over an alias's logged predictions that feedback labelled. */
  async onlineReport(input: OnlineReportInput) {
    return (await this.request(OnlineReportDocument, { input })).onlineReport;
  }
}
