// The platform's vocabulary, shared by every module.
//
// dataset   a set of items imported from one Fashion-How CSV plus an image folder
// item      one CSV row: an image path, the bbox of one fashion item in it, one class per task
// task      one attribute to predict (Daily, Gender, Embellishment by default)
// class     one value of a task, addressed by its 0-based index into the task's ordered class names
// split     TRAIN / VALIDATION (stratified, fixed seed) / TEST (an external set)
// run       one training job for one (backbone, head) combination
// combo     a (backbone, head) pair
// artifact  model.onnx + model.json left by a finished run or imported by a user
// ensemble  a weighted soft vote over artifacts that share a label schema
// report    metrics of a run, artifact or ensemble on one split, with confusion matrices

/** Pixel coordinates; xmax and ymax are exclusive, as in the Fashion-How baseline's image[ymin:ymax, xmin:xmax]. */
export interface Bbox {
  xmin: number;
  ymin: number;
  xmax: number;
  ymax: number;
}

/** What a dataset's models (and a run's epochs) are ranked by: mean over tasks of top-1, or of ACSA. */
export const RANKING_METRICS = ['MEAN_TOP1', 'MEAN_ACSA'] as const;
export type RankingMetric = (typeof RANKING_METRICS)[number];

export const SPLITS = ['TRAIN', 'VALIDATION', 'TEST'] as const;
export type Split = (typeof SPLITS)[number];

export interface TaskSpec {
  name: string;
  /** The CSV column holding this task's labels. */
  column: string;
  classes: string[];
}

export interface LabelSchemaSpec {
  name: string;
  tasks: TaskSpec[];
}
