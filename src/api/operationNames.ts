// The operation names metrics may carry as a label: those of the SDK's and the dashboard's operations.
// A client chooses its operationName freely, and a Prometheus series per name is kept for the life of
// the process, so any other name (and every name of a request that failed before it resolved) is
// recorded as "other": the series stay a bounded set however many names clients make up.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type DocumentNode, Kind, parse } from 'graphql';
import { PACKAGE_ROOT } from '../db/migrate.js';
import * as sdkDocuments from '../sdk/generated.js';

/** The label of requests that named no operation. */
export const UNNAMED_OPERATION = 'anonymous';
/** The label of every operation name outside the known set. */
export const OTHER_OPERATION = 'other';

const namesIn = (document: DocumentNode) =>
  document.definitions.flatMap((definition) => (definition.kind === Kind.OPERATION_DEFINITION && definition.name ? [definition.name.value] : []));

/** The SDK's operations (its generated documents) and the dashboard's (web/src/operations.graphql, shipped with the package). */
export function knownOperationNames(): Set<string> {
  const names = new Set<string>();
  for (const value of Object.values(sdkDocuments)) {
    if ((value as DocumentNode | undefined)?.kind === Kind.DOCUMENT) for (const name of namesIn(value as DocumentNode)) names.add(name);
  }
  const dashboard = path.join(PACKAGE_ROOT, 'web', 'src', 'operations.graphql');
  if (existsSync(dashboard)) for (const name of namesIn(parse(readFileSync(dashboard, 'utf8')))) names.add(name);
  return names;
}

/** The metrics label for a request's operation name: itself when known, else "other" ("anonymous" for none). */
export function operationLabel(known: ReadonlySet<string>, name: string | null | undefined): string {
  if (name === undefined || name === null || name === '') return UNNAMED_OPERATION;
  return known.has(name) ? name : OTHER_OPERATION;
}
