// Fair use of the models by many clients: images per request counted across every classify field of
// the operation (aliases and fragments included) before any of them runs, since a per-field limit
// alone let one request with 500 aliased fields fill a model's whole queue; and a limit on each
// client's classify requests in flight (per token, per address when anonymous), answered RATE_LIMITED
// with HTTP 429 and Retry-After, so one busy client cannot take every slot; and a round-robin scheduler
// for the work requests share (preprocessing), so a backlog delays others by a turn, not by its length.
import type { ApolloServerPlugin } from '@apollo/server';
import { type FieldNode, type FragmentDefinitionNode, getArgumentValues, GraphQLError, type GraphQLSchema, Kind, type SelectionSetNode } from 'graphql';
import type { Context } from './context.js';
import { AppError, ErrorCode } from './errors.js';
import { SALIENCY_GRID } from './inference/saliency.js';

/** Seconds a client is told to wait after RATE_LIMITED: about one batch's time. */
export const RETRY_AFTER_SECONDS = 1;

/** Classify requests in flight per client. */
export class ClientLimiter {
  private readonly inFlight = new Map<string, number>();

  constructor(private readonly limit: number) {}

  /** Takes a slot for the client, or refuses with RATE_LIMITED; call the returned function when done. */
  private acquire(client: string): () => void {
    const used = this.inFlight.get(client) ?? 0;
    if (used >= this.limit) {
      throw new AppError(ErrorCode.RATE_LIMITED, `this client already has ${used} classify requests in flight, the limit is ${this.limit} (FASHION_HOW_MAX_CLIENT_CONCURRENCY); retry after ${RETRY_AFTER_SECONDS} s`, { retryAfterSeconds: RETRY_AFTER_SECONDS });
    }
    this.inFlight.set(client, used + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inFlight.get(client) ?? 1) - 1;
      if (left > 0) this.inFlight.set(client, left);
      else this.inFlight.delete(client);
    };
  }

  /** Runs `work` in one of the client's slots (RATE_LIMITED when it has none left). */
  async run<T>(client: string, work: () => Promise<T>): Promise<T> {
    const release = this.acquire(client);
    try {
      return await work();
    } finally {
      release();
    }
  }
}

/** Runs tasks at most `concurrency` at a time, taking the next one round-robin across clients, so one
 *  client's backlog (e.g. images waiting for sharp, whose thread pool is first come, first served)
 *  delays another client's task by about one task per busy client, not by the whole backlog. */
export class FairScheduler {
  private readonly waiting = new Map<string, (() => void)[]>();
  private running = 0;

  constructor(private readonly concurrency: number) {}

  run<T>(client: string, task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        this.running++;
        Promise.resolve()
          .then(task) // a task that throws at once still frees its slot
          .then(resolve, reject)
          .finally(() => {
            this.running--;
            this.next();
          });
      };
      const queue = this.waiting.get(client) ?? [];
      queue.push(start);
      this.waiting.set(client, queue);
      this.next();
    });
  }

  private next() {
    while (this.running < this.concurrency && this.waiting.size > 0) {
      const [client, queue] = this.waiting.entries().next().value!;
      const start = queue.shift()!;
      this.waiting.delete(client); // to the back of the line, if it has more
      if (queue.length > 0) this.waiting.set(client, queue);
      start();
    }
  }
}

/** RATE_LIMITED answers carry HTTP 429 and Retry-After, as HTTP clients and proxies expect. */
export function retryAfterPlugin(): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response }) {
          const errors = response.body.kind === 'single' ? (response.body.singleResult.errors ?? []) : [];
          if (!errors.some((e) => e.extensions?.code === ErrorCode.RATE_LIMITED)) return;
          response.http.status = 429;
          response.http.headers.set('retry-after', String(RETRY_AFTER_SECONDS));
        },
      };
    },
  };
}

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
export function classifyImageCount(schema: GraphQLSchema, selectionSet: SelectionSetNode, fragments: Record<string, FragmentDefinitionNode>, variables: Record<string, unknown>): { images: number; copies: number } {
  const fields = schema.getQueryType()?.getFields() ?? {};
  const inputs = (name: string) => {
    const field = fields[name];
    return field ? rootFields(selectionSet, name, fragments).map((node) => (getArgumentValues(field, node, variables) as { input?: Record<string, unknown> }).input) : [];
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
          const fragments = Object.fromEntries(document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]));
          let asked: { images: number; copies: number };
          try {
            asked = classifyImageCount(schema, operation.selectionSet, fragments, request.variables ?? {});
          } catch {
            return; // variables that do not fit: execution reports them with its own message
          }
          const { images, copies } = asked;
          if (images > maxImages) {
            throw new GraphQLError(`a request may classify at most ${maxImages} images over all its classify fields (FASHION_HOW_MAX_CLASSIFY_IMAGES); this one asks for ${images}`, {
              extensions: { code: ErrorCode.BAD_USER_INPUT, http: { status: 400 } },
            });
          }
          // An occluded copy skips the upload and the decoding: half an image's cost.
          const copyCost = imageCost / 2;
          const cost = images * imageCost + copies * copyCost;
          if (cost > maxCost) {
            const parts = [`${images} images x ${imageCost}, FASHION_HOW_CLASSIFY_IMAGE_COST`, ...(copies > 0 ? [`${copies} saliency copies x ${copyCost}`] : [])];
            throw new GraphQLError(`this request costs ${cost} (${parts.join('; ')}), over the query cost limit of ${maxCost} (FASHION_HOW_MAX_QUERY_COST)`, {
              extensions: { code: ErrorCode.BAD_USER_INPUT, http: { status: 400 } },
            });
          }
        },
      };
    },
  };
}
