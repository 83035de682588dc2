// GraphQL lets a client send null for an optional input field; to the services a field that is null is
// one that was not given. One conversion at the boundary, instead of `?? undefined` field by field.

export type Absent<T> = { [K in keyof T]: Exclude<T[K], null> };

/** The object with its null fields dropped (a shallow copy). */
export function nullsAsAbsent<T extends object>(input: T): Absent<T> {
  return Object.fromEntries(Object.entries(input).filter(([, value]) => value !== null)) as Absent<T>;
}
