// The resolver map: one file per field, assembled here.
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import type { Resolvers } from '../generated/graphql.js';
import { GraphQLUpload } from '../uploads.js';
import { ClassifyResult } from './ClassifyResult.js';
import { ConfusionMatrix } from './ConfusionMatrix.js';
import { CrossValidation } from './CrossValidation.js';
import { Dataset } from './Dataset.js';
import { DriftReport } from './DriftReport.js';
import { Ensemble } from './Ensemble.js';
import { EvaluationReport } from './EvaluationReport.js';
import { Item, ItemPrediction, ReportPrediction } from './Item.js';
import { LabelIssue, LabelIssueScan } from './LabelIssue.js';
import { LabelSchema } from './LabelSchema.js';
import { LoggedPrediction } from './LoggedPrediction.js';
import { AliasChange, AliasState, ModelAlias, ModelRef } from './ModelAlias.js';
import { AccuracyChange, ModelArtifact, Quantization, SessionTuning } from './ModelArtifact.js';
import { applyLabelReview } from './Mutation/applyLabelReview.js';
import { cancelPredictionJob } from './Mutation/cancelPredictionJob.js';
import { cancelRun } from './Mutation/cancelRun.js';
import { cancelSweep } from './Mutation/cancelSweep.js';
import { checkDrift } from './Mutation/checkDrift.js';
import { createEnsemble } from './Mutation/createEnsemble.js';
import { createToken } from './Mutation/createToken.js';
import { evaluate } from './Mutation/evaluate.js';
import { findLabelIssues } from './Mutation/findLabelIssues.js';
import { fitEnsemble } from './Mutation/fitEnsemble.js';
import { importDataset } from './Mutation/importDataset.js';
import { importModel } from './Mutation/importModel.js';
import { predictDataset } from './Mutation/predictDataset.js';
import { quantizeArtifact } from './Mutation/quantizeArtifact.js';
import { resumePredictionJob } from './Mutation/resumePredictionJob.js';
import { resumeRun } from './Mutation/resumeRun.js';
import { reviewLabelIssue } from './Mutation/reviewLabelIssue.js';
import { reviewLabelIssues } from './Mutation/reviewLabelIssues.js';
import { revokeToken } from './Mutation/revokeToken.js';
import { setAlias } from './Mutation/setAlias.js';
import { setDatasetSeason } from './Mutation/setDatasetSeason.js';
import { setDefaultEnsemble } from './Mutation/setDefaultEnsemble.js';
import { startRace } from './Mutation/startRace.js';
import { startSweep } from './Mutation/startSweep.js';
import { startTraining } from './Mutation/startTraining.js';
import { submitFeedback } from './Mutation/submitFeedback.js';
import { tuneArtifact } from './Mutation/tuneArtifact.js';
import { undoAliasChange } from './Mutation/undoAliasChange.js';
import { uploadDataset } from './Mutation/uploadDataset.js';
import { OnlineModelReport, OnlineReport } from './OnlineReport.js';
import { PredictionJob } from './PredictionJob.js';
import { alias } from './Query/alias.js';
import { aliases } from './Query/aliases.js';
import { artifact } from './Query/artifact.js';
import { artifacts } from './Query/artifacts.js';
import { artifactsConnection } from './Query/artifactsConnection.js';
import { classify } from './Query/classify.js';
import { crossValidation } from './Query/crossValidation.js';
import { crossValidations } from './Query/crossValidations.js';
import { dataset } from './Query/dataset.js';
import { datasets } from './Query/datasets.js';
import { datasetsConnection } from './Query/datasetsConnection.js';
import { driftReports } from './Query/driftReports.js';
import { driftTimeline } from './Query/driftTimeline.js';
import { ensemble } from './Query/ensemble.js';
import { ensembles } from './Query/ensembles.js';
import { ensemblesConnection } from './Query/ensemblesConnection.js';
import { health } from './Query/health.js';
import { item } from './Query/item.js';
import { labelIssueScan } from './Query/labelIssueScan.js';
import { labelIssueScans } from './Query/labelIssueScans.js';
import { onlineReport } from './Query/onlineReport.js';
import { prediction } from './Query/prediction.js';
import { predictionJob } from './Query/predictionJob.js';
import { predictionJobs } from './Query/predictionJobs.js';
import { predictionLog } from './Query/predictionLog.js';
import { predictions } from './Query/predictions.js';
import { randomItem } from './Query/randomItem.js';
import { report } from './Query/report.js';
import { reports } from './Query/reports.js';
import { reportsConnection } from './Query/reportsConnection.js';
import { run } from './Query/run.js';
import { runs } from './Query/runs.js';
import { runsConnection } from './Query/runsConnection.js';
import { saliency } from './Query/saliency.js';
import { seasonProfiles } from './Query/seasonProfiles.js';
import { sweep } from './Query/sweep.js';
import { sweeps } from './Query/sweeps.js';
import { tokens } from './Query/tokens.js';
import { tokensConnection } from './Query/tokensConnection.js';
import { trainingCapabilities } from './Query/trainingCapabilities.js';
import { Role } from './Role.js';
import { SeasonProfile, SeasonVerdict, Submission } from './SeasonProfile.js';
import { importProgress } from './Subscription/importProgress.js';
import { predictionJobUpdated } from './Subscription/predictionJobUpdated.js';
import { reportAdded } from './Subscription/reportAdded.js';
import { runsUpdated } from './Subscription/runsUpdated.js';
import { runUpdated } from './Subscription/runUpdated.js';
import { Sweep, SweepTrial } from './Sweep.js';
import { TrainingRun } from './TrainingRun.js';

export const resolvers: Resolvers = {
  DateTime: DateTimeResolver,
  JSON: JSONResolver,
  Upload: GraphQLUpload,
  Query: {
    health,
    datasets,
    datasetsConnection,
    dataset,
    item,
    randomItem,
    labelIssueScan,
    labelIssueScans,
    runs,
    runsConnection,
    run,
    predictionJob,
    predictionJobs,
    trainingCapabilities,
    sweep,
    sweeps,
    crossValidation,
    crossValidations,
    classify,
    aliases,
    alias,
    prediction,
    predictions,
    predictionLog,
    driftReports,
    driftTimeline,
    onlineReport,
    saliency,
    seasonProfiles,
    ensembles,
    ensemblesConnection,
    ensemble,
    artifacts,
    artifactsConnection,
    artifact,
    tokens,
    tokensConnection,
    report,
    reports,
    reportsConnection,
  },
  Mutation: {
    importDataset,
    uploadDataset,
    startTraining,
    startSweep,
    cancelSweep,
    startRace,
    cancelRun,
    predictDataset,
    cancelPredictionJob,
    resumePredictionJob,
    resumeRun,
    importModel,
    createEnsemble,
    fitEnsemble,
    setDefaultEnsemble,
    setDatasetSeason,
    setAlias,
    undoAliasChange,
    submitFeedback,
    checkDrift,
    createToken,
    revokeToken,
    evaluate,
    quantizeArtifact,
    tuneArtifact,
    findLabelIssues,
    reviewLabelIssue,
    reviewLabelIssues,
    applyLabelReview,
  },
  Subscription: { runUpdated, predictionJobUpdated, runsUpdated, reportAdded, importProgress },
  Role,
  // Stored in lowercase, as Role is.
  ModelKind: { ENSEMBLE: 'ensemble', ARTIFACT: 'artifact' },
  Dataset,
  LabelSchema,
  TrainingRun,
  PredictionJob,
  Sweep,
  SweepTrial,
  CrossValidation,
  ModelArtifact,
  Quantization,
  AccuracyChange,
  SessionTuning,
  EvaluationReport,
  Ensemble,
  ClassifyResult,
  ConfusionMatrix,
  Item,
  ItemPrediction,
  ReportPrediction,
  LabelIssueScan,
  LabelIssue,
  ModelAlias,
  AliasChange,
  AliasState,
  ModelRef,
  LoggedPrediction,
  DriftReport,
  OnlineReport,
  OnlineModelReport,
  SeasonProfile,
  SeasonVerdict,
  Submission,
};
