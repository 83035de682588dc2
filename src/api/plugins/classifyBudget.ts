// Images per request counted across every classify and saliency field of the operation (aliases and
// fragments included) before any of them runs, since a per-field limit alone let one request with 500
// aliased fields fill a model's whole queue; and their cost checked against the query cost limit.
import type { ApolloServerPlugin } from '@apollo/server';
import { type FieldNode, type FragmentDefinitionNode, GraphQLError, type GraphQLSchema, getArgumentValues, Kind, type SelectionSetNode } from 'graphql';
import { ErrorCode } from '../../errors.js';
import { SALIENCY_GRID } from '../../inference/saliency.js';
import type { Context } from '../context.js';
import { httpStatusOf } from '../httpStatus.js';

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

/** Refuses an operation whose classify fields ask for more images than one request may hold, or whose
 *  images cost more than the query cost limit (each image weighs `imageCost`; graphql-armor's cost rule
 *  prices the fields, not what they do). */
export function classifyBudgetPlugin(limits: { maxImages: number; imageCost: number; maxCost: number }): ApolloServerPlugin<Context> {
  const { maxImages, imageCost, maxCost } = limits;
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, document, schema, request }) {
          if (operation?.operation !== 'query') return;
          const fragments = Object.fromEntries(
            document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]),
          );
          let asked: { images: number; copies: number };
          try {
            asked = classifyImageCount(schema, operation.selectionSet, fragments, request.variables ?? {});
          } catch {
            return; // variables that do not fit: execution reports them with its own message
          }
          const { images, copies } = asked;
          if (images > maxImages) {
            throw new GraphQLError(
              `a request may classify at most ${maxImages} images over all its classify fields (FASHION_HOW_MAX_CLASSIFY_IMAGES); this one asks for ${images}`,
              {
                extensions: { code: ErrorCode.BAD_USER_INPUT, http: { status: httpStatusOf(ErrorCode.BAD_USER_INPUT) } },
              },
            );
          }
          // An occluded copy skips the upload and the decoding: half an image's cost.
          const copyCost = imageCost / 2;
          const cost = images * imageCost + copies * copyCost;
          if (cost > maxCost) {
            const parts = [
              `${images} images x ${imageCost}, FASHION_HOW_CLASSIFY_IMAGE_COST`,
              ...(copies > 0 ? [`${copies} saliency copies x ${copyCost}`] : []),
            ];
            throw new GraphQLError(`this request costs ${cost} (${parts.join('; ')}), over the query cost limit of ${maxCost} (FASHION_HOW_MAX_QUERY_COST)`, {
              extensions: { code: ErrorCode.BAD_USER_INPUT, http: { status: httpStatusOf(ErrorCode.BAD_USER_INPUT) } },
            });
          }
        },
      };
    },
  };
}
