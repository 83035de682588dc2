// Roles are stored in lowercase; the schema shows them in capitals. graphql-tools maps between the
// two here, and acceptOldRoleNames keeps the lowercase names working as input.
import { type GraphQLEnumType, type GraphQLSchema, Kind } from 'graphql';
import type { RoleResolvers } from '../generated/graphql.js';

export const Role: RoleResolvers = { READER: 'reader', TRAINER: 'trainer', ADMIN: 'admin' };

/** The names Role had before 0.2: still accepted as input (literal or variable), never answered. */
const OLD_NAMES: ReadonlySet<string> = new Set(Object.values(Role));

export function acceptOldRoleNames(schema: GraphQLSchema): void {
  const role = schema.getType('Role') as GraphQLEnumType;
  const parseValue = role.parseValue.bind(role);
  const parseLiteral = role.parseLiteral.bind(role);
  role.parseValue = (value) => parseValue(typeof value === 'string' && OLD_NAMES.has(value) ? value.toUpperCase() : value);
  role.parseLiteral = (node, variables) =>
    parseLiteral(node.kind === Kind.ENUM && OLD_NAMES.has(node.value) ? { ...node, value: node.value.toUpperCase() } : node, variables);
}
