import type { LabelSchemaResolvers } from '../generated/graphql.js';

export const LabelSchema: LabelSchemaResolvers = {
  id: (row) => String(row.id),
  tasks: (row) => row.tasks.map((task, index) => ({ index, ...task })),
};
