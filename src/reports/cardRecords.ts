// What a model card reads of the records training stores: an INT8 artifact's quantization record, a
// run's progress and its epochs. Declared here because training stands above reports; the records
// themselves (training/quantization.ts's QuantizationRecord, training/runRecord.ts's RunProgress and
// EpochRecord) extend these, so a change there that the card would misread fails to compile.

/** Where an INT8 artifact came from and what quantizing cost, per split. */
export interface QuantizationFacts {
  parent: { id: number; sha256: string };
  scheme: string;
  method: string;
  calibrationImages: number;
  calibration: { datasetId: number; datasetVersion: number; split: string };
  accuracy: { split: string; itemCount: number; meanTop1Change: number; meanAcsaChange: number }[];
}

/** The starting weights of a run and what it did differently from what was asked. */
export interface ProgressFacts {
  weights?: { source: string; file: string; sha256: string; downloaded: boolean } | null;
  warnings?: string[];
}

/** One epoch: its training loss, its time and its validation scores per task. */
export interface EpochFacts {
  epoch: number;
  trainLoss: number;
  seconds: number;
  validation: { top1: number; acsa: number }[];
}
