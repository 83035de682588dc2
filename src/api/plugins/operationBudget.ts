// What one operation may ask of the server, checked before any of it runs, over HTTP and WebSocket
// alike: the images its classify and saliency fields send (aliases and fragments included, see
// classifyBudget.ts), the model cards it asks for, and the objects its response would hold. A list or a
// connection is priced by its `first` or `limit` (a variable's value too, else the argument's default),
// and nested ones multiply: `datasets { items(first: 100) { ... dataset { items(first: 100) ... } } }`
// holds 10,000 items, not the few hundred fields graphql-armor's cost rule counts.
import type { ApolloServerPlugin } from '@apollo/server';
import {
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  getArgumentValues,
  getNamedType,
  isInterfaceType,
  isObjectType,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { ErrorCode } from '../../errors.js';
import type { Context } from '../context.js';
import { httpStatusOf } from '../httpStatus.js';
import { classifyImageCount } from './classifyBudget.js';

export interface OperationLimits {
  maxImages: number;
  imageCost: number;
  maxCost: number;
  modelCardCost: number;
  maxResponseNodes: number;
}

/** The arguments that size a list or a page. */
const SIZE_ARGUMENTS = ['first', 'limit'];

/** The objects and values a response would hold at most, and the modelCard fields it asks for. */
export function responseSize(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  fragments: Record<string, FragmentDefinitionNode>,
  variables: Record<string, unknown>,
): { nodes: number; modelCards: number } {
  let nodes = 0;
  let modelCards = 0;
  const root =
    operation.operation === 'mutation'
      ? schema.getMutationType()
      : operation.operation === 'subscription'
        ? schema.getSubscriptionType()
        : schema.getQueryType();
  const walk = (selectionSet: SelectionSetNode, type: GraphQLNamedType | null | undefined, times: number, seen: Set<string>) => {
    for (const selection of selectionSet.selections) {
      switch (selection.kind) {
        case Kind.FIELD: {
          const field = isObjectType(type) || isInterfaceType(type) ? type.getFields()[selection.name.value] : undefined;
          if (!field) break; // __typename, or a field validation has refused already
          nodes += times;
          // Once per field (aliases and fragments count): a card inside a list is refused by its resolver.
          if (selection.name.value === 'modelCard') modelCards += 1;
          if (selection.selectionSet) walk(selection.selectionSet, getNamedType(field.type), times * sizeOf(field, selection, variables), seen);
          break;
        }
        case Kind.INLINE_FRAGMENT: {
          const condition = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : type;
          walk(selection.selectionSet, condition, times, seen);
          break;
        }
        case Kind.FRAGMENT_SPREAD: {
          const fragment = fragments[selection.name.value];
          if (!fragment || seen.has(fragment.name.value)) break;
          walk(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value), times, new Set([...seen, fragment.name.value]));
          break;
        }
        default: {
          const unknown: never = selection;
          return unknown;
        }
      }
    }
  };
  walk(operation.selectionSet, root, 1, new Set());
  return { nodes, modelCards };
}

/** How many times a field's selection repeats: its first or limit (at least 1), else once. */
function sizeOf(field: GraphQLField<unknown, unknown>, node: FieldNode, variables: Record<string, unknown>): number {
  if (!field.args.some((arg) => SIZE_ARGUMENTS.includes(arg.name))) return 1;
  const values = getArgumentValues(field, node, variables);
  for (const name of SIZE_ARGUMENTS) {
    const value = values[name];
    if (typeof value === 'number' && Number.isFinite(value)) return Math.max(1, Math.floor(value));
  }
  return 1;
}

const refusal = (message: string) =>
  new GraphQLError(message, { extensions: { code: ErrorCode.BAD_USER_INPUT, http: { status: httpStatusOf(ErrorCode.BAD_USER_INPUT) } } });

/** Why an operation asks for more than one request may, or undefined when it fits. */
export function operationBudgetError(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  fragments: Record<string, FragmentDefinitionNode>,
  variables: Record<string, unknown>,
  limits: OperationLimits,
): GraphQLError | undefined {
  let size: { nodes: number; modelCards: number };
  let asked: { images: number; copies: number } = { images: 0, copies: 0 };
  try {
    size = responseSize(schema, operation, fragments, variables);
    if (operation.operation === 'query') asked = classifyImageCount(schema, operation.selectionSet, fragments, variables);
  } catch {
    return undefined; // variables that do not fit: execution reports them with its own message
  }
  if (size.nodes > limits.maxResponseNodes) {
    return refusal(
      `this request's response would hold up to ${size.nodes} objects and values (lists counted at their first or limit, nested lists multiplied), over the limit of ${limits.maxResponseNodes} (FASHION_HOW_MAX_RESPONSE_NODES): ask for smaller pages`,
    );
  }
  const { images, copies } = asked;
  if (images > limits.maxImages) {
    return refusal(
      `a request may classify at most ${limits.maxImages} images over all its classify fields (FASHION_HOW_MAX_CLASSIFY_IMAGES); this one asks for ${images}`,
    );
  }
  // An occluded copy skips the upload and the decoding: half an image's cost.
  const copyCost = limits.imageCost / 2;
  const cost = images * limits.imageCost + copies * copyCost + size.modelCards * limits.modelCardCost;
  if (cost > limits.maxCost) {
    const parts = [
      ...(images > 0 ? [`${images} images x ${limits.imageCost}, FASHION_HOW_CLASSIFY_IMAGE_COST`] : []),
      ...(copies > 0 ? [`${copies} saliency copies x ${copyCost}`] : []),
      ...(size.modelCards > 0 ? [`${size.modelCards} model cards x ${limits.modelCardCost}, FASHION_HOW_MODEL_CARD_COST`] : []),
    ];
    return refusal(`this request costs ${cost} (${parts.join('; ')}), over the query cost limit of ${limits.maxCost} (FASHION_HOW_MAX_QUERY_COST)`);
  }
  return undefined;
}

export const fragmentsOf = (definitions: readonly { kind: Kind }[]): Record<string, FragmentDefinitionNode> =>
  Object.fromEntries(definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]));

/** The check above on every GraphQL request over HTTP, once its operation is known. */
export function operationBudgetPlugin(limits: OperationLimits): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, document, schema, request }) {
          if (!operation) return;
          const refused = operationBudgetError(schema, operation, fragmentsOf(document.definitions), request.variables ?? {}, limits);
          if (refused) throw refused;
        },
      };
    },
  };
}
