// GraphQL Code Generator: resolver types for the server from schema.graphql. Mappers keep the
// storage rows (Prisma) apart from the GraphQL shapes.
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: 'schema.graphql',
  generates: {
    // The SDK's operation types: results and variables of the operations in src/sdk/operations.graphql.
    // The dashboard's operation types, from web/src/operations.graphql.
    'web/src/generated.ts': {
      documents: 'web/src/operations.graphql',
      plugins: ['typescript-operations', 'typed-document-node'],
      config: {
        enumsAsTypes: true,
        useTypeImports: true,
        scalars: { DateTime: 'string', JSON: 'unknown', Upload: 'Blob' },
        avoidOptionals: { field: true, inputValue: false },
      },
    },
    'src/sdk/generated.ts': {
      documents: 'src/sdk/operations.graphql',
      plugins: ['typescript-operations', 'typed-document-node'],
      config: {
        enumsAsTypes: true,
        useTypeImports: true,
        scalars: { DateTime: 'string', JSON: 'unknown', Upload: 'Blob' },
        avoidOptionals: { field: true, inputValue: false },
      },
    },
    'src/api/generated/graphql.ts': {
      plugins: ['typescript', 'typescript-resolvers'],
      config: {
        useIndexSignature: true,
        contextType: '../context.js#Context',
        mappers: {
          Dataset: '../resolvers/mappers.js#DatasetRow',
          LabelSchema: '../resolvers/mappers.js#LabelSchemaRow',
          TrainingRun: '../resolvers/mappers.js#TrainingRunRow',
          Sweep: '../resolvers/mappers.js#SweepRow',
          SweepTrial: '../resolvers/mappers.js#SweepTrialRow',
          CrossValidation: '../resolvers/mappers.js#CrossValidationRow',
          ModelArtifact: '../resolvers/mappers.js#ModelArtifactRow',
          EvaluationReport: '../resolvers/mappers.js#EvaluationReportRow',
          Ensemble: '../resolvers/mappers.js#EnsembleRow',
          ConfusionMatrix: '../resolvers/mappers.js#ConfusionMatrixRow',
          ClassifyResult: '../resolvers/mappers.js#ClassifyResultRow',
          ApiToken: '../resolvers/mappers.js#ApiTokenRow',
          DatasetConnection: '../resolvers/mappers.js#DatasetConnectionRow',
          TrainingRunConnection: '../resolvers/mappers.js#TrainingRunConnectionRow',
          EnsembleConnection: '../resolvers/mappers.js#EnsembleConnectionRow',
          ModelArtifactConnection: '../resolvers/mappers.js#ModelArtifactConnectionRow',
          ApiTokenConnection: '../resolvers/mappers.js#ApiTokenConnectionRow',
          EvaluationReportConnection: '../resolvers/mappers.js#EvaluationReportConnectionRow',
          Item: '../resolvers/mappers.js#ItemRow',
          PredictionJob: '../resolvers/mappers.js#PredictionJobRow',
          ItemConnection: '../resolvers/mappers.js#ItemConnectionRow',
          ItemPrediction: '../resolvers/mappers.js#ItemPredictionRow',
          ReportPrediction: '../resolvers/mappers.js#ReportPredictionRow',
          ReportPredictionConnection: '../resolvers/mappers.js#ReportPredictionConnectionRow',
          LabelIssueScan: '../resolvers/mappers.js#LabelIssueScanRow',
          LabelIssue: '../resolvers/mappers.js#LabelIssueRow',
          Quantization: '../resolvers/mappers.js#QuantizationRow',
          AccuracyChange: '../resolvers/mappers.js#AccuracyChangeRow',
          SessionTuning: '../resolvers/mappers.js#SessionTuningRow',
          ModelAlias: '../resolvers/mappers.js#ModelAliasRow',
          AliasChange: '../resolvers/mappers.js#AliasChangeRow',
          AliasState: '../resolvers/mappers.js#AliasStateRow',
          ModelRef: '../resolvers/mappers.js#ModelRefRow',
          LiveComparison: '../resolvers/mappers.js#LiveComparisonRow',
          LoggedPrediction: '../resolvers/mappers.js#LoggedPredictionRow',
          DriftReport: '../resolvers/mappers.js#DriftReportRow',
          OnlineReport: '../resolvers/mappers.js#OnlineReportRow',
          OnlineModelReport: '../resolvers/mappers.js#OnlineModelReportRow',
          SeasonProfile: '../resolvers/mappers.js#SeasonProfileRow',
          SeasonVerdict: '../resolvers/mappers.js#SeasonVerdictRow',
          Submission: '../resolvers/mappers.js#SubmissionRow',
        },
        // Roles are stored in lowercase (reader, trainer, admin); the schema's capitals map to them here.
        enumValues: { Role: { READER: 'reader', TRAINER: 'trainer', ADMIN: 'admin' }, ModelKind: { ENSEMBLE: 'ensemble', ARTIFACT: 'artifact' } },
        scalars: { DateTime: 'Date', JSON: 'unknown', Upload: '../uploads.js#Upload' },
        enumsAsTypes: true,
        useTypeImports: true,
        emitLegacyCommonJSImports: false,
      },
    },
  },
};
export default config;
