// Images per request, counted across every classify field of the operation (aliases and fragments
// included) before any of them runs: a per-field limit alone let one request with 500 aliased fields
// fill a model's whole inference queue and starve every other client.
import type { ApolloServerPlugin } from '@apollo/server';
import { type FieldNode, type FragmentDefinitionNode, getArgumentValues, GraphQLError, type GraphQLSchema, Kind, type SelectionSetNode } from 'graphql';
import type { Context } from './context.js';
import { ErrorCode } from './errors.js';

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

/** Images the operation asks classify for, over all its classify fields. */
export function classifyImageCount(schema: GraphQLSchema, selectionSet: SelectionSetNode, fragments: Record<string, FragmentDefinitionNode>, variables: Record<string, unknown>): number {
  const field = schema.getQueryType()?.getFields().classify;
  if (!field) return 0;
  return rootFields(selectionSet, 'classify', fragments).reduce((total, node) => {
    const { input } = getArgumentValues(field, node, variables) as { input?: { images?: unknown[] } };
    return total + (input?.images?.length ?? 0);
  }, 0);
}

export function classifyBudgetPlugin(maxImages: number): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, document, schema, request }) {
          if (operation?.operation !== 'query') return;
          const fragments = Object.fromEntries(document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]));
          let images: number;
          try {
            images = classifyImageCount(schema, operation.selectionSet, fragments, request.variables ?? {});
          } catch {
            return; // variables that do not fit: execution reports them with its own message
          }
          if (images > maxImages) {
            throw new GraphQLError(`a request may classify at most ${maxImages} images over all its classify fields (FASHION_HOW_MAX_CLASSIFY_IMAGES); this one asks for ${images}`, {
              extensions: { code: ErrorCode.BAD_USER_INPUT, http: { status: 400 } },
            });
          }
        },
      };
    },
  };
}
