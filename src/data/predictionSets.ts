// A prediction set is a dataset imported from a CSV without the label columns (the organisers' test CSV,
// say): its items have no labels, so whatever learns from or scores against labels refuses it here, with
// one message, before any work starts. Batch predictions take it like any dataset.

import { badInput } from '../errors.js';

/** Refuses a prediction set for work that needs labels (`purpose`: "train on", "evaluate on", ...). */
export function requireLabels(dataset: { id: number; name: string; labelled: boolean }, purpose: string): void {
  if (dataset.labelled) return;
  throw badInput(
    `dataset ${dataset.id} ("${dataset.name}") is a prediction set: its CSV had no label columns, so there is nothing to ${purpose}. ` +
      'Score it with predictDataset (fashion-how predict), or import a CSV with the label columns',
  );
}
