// Images per request counted across every classify and saliency field of the operation (aliases and
// fragments included) before any of them runs, since a per-field limit alone let one request with 500
// aliased fields fill a model's whole queue; operationBudget.ts checks them and their cost.
import { type FieldNode, type FragmentDefinitionNode, type GraphQLSchema, getArgumentValues, Kind, type SelectionSetNode } from 'graphql';
import { SALIENCY_GRID } from '../../inference/saliency.js';

/** Every root field named `name` in a selection set, following fragments. */
function rootFields(selectionSet: SelectionSetNode, name: string, fragments: Record<string, FragmentDefinitionNode>, seen = new Set<string>()): FieldNode[] {
  return selectionSet.selections.flatMap((selection) => {
    switch (selection.kind) {
      case Kind.FIELD:
        return selection.name.value === name ? [selection] : [];
      case Kind.INLINE_FRAGMENT:
        return rootFields(selection.selectionSet, name, fragments, seen);
      case Kind.FRAGMENT_SPREAD: {
        const fragment = fragments[selection.name.value];
        if (!fragment || seen.has(fragment.name.value)) return [];
        seen.add(fragment.name.value);
        return rootFields(fragment.selectionSet, name, fragments, seen);
      }
      default: {
        const unknown: never = selection;
        return unknown;
      }
    }
  });
}

/** What an operation asks of the models, over all its classify and saliency fields (aliases and
 *  fragments included): the images it sends, and the copies the models score. A saliency map sends one
 *  image and scores grid x grid + 1 occluded copies of it. */
export function classifyImageCount(
  schema: GraphQLSchema,
  selectionSet: SelectionSetNode,
  fragments: Record<string, FragmentDefinitionNode>,
  variables: Record<string, unknown>,
): { images: number; copies: number } {
  const fields = schema.getQueryType()?.getFields() ?? {};
  const inputs = (name: string) => {
    const field = fields[name];
    return field
      ? rootFields(selectionSet, name, fragments).map((node) => (getArgumentValues(field, node, variables) as { input?: Record<string, unknown> }).input)
      : [];
  };
  const classified = inputs('classify').reduce((total, input) => total + ((input?.images as unknown[] | undefined)?.length ?? 0), 0);
  const maps = inputs('saliency');
  const copies = maps.reduce((total, input) => {
    const grid = typeof input?.grid === 'number' ? input.grid : SALIENCY_GRID.default;
    return total + grid * grid + 1;
  }, 0);
  return { images: classified + maps.length, copies };
}
