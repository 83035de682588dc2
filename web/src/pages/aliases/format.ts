// How the models page writes a model reference and a time, shared by its cards and its drift views.
import type { ModelKind } from '../../generated.js';

export type Ref = { kind: ModelKind; id: string; name: string };

const kindOf = (ref: Ref) => (ref.kind === 'ENSEMBLE' ? 'ensemble' : 'artifact');
export const refText = (ref: Ref) => `${kindOf(ref)} ${ref.name} (#${ref.id})`;

export const when = (iso: string) => new Date(iso).toLocaleString();
