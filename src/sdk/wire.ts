// How a GraphQL request travels, shared by the SDK and the dashboard (both run it: Node 20 and browsers
// have FormData and Blob): JSON, or when the variables hold files, a multipart request as the GraphQL
// multipart request spec lays out (extract-files finds the files and their paths).
import extractFiles from 'extract-files/extractFiles.mjs';
import isExtractableFile from 'extract-files/isExtractableFile.mjs';

/** A GraphQL request body: JSON, or multipart form data when the variables hold files. */
export function encodeRequest(query: string, variables: unknown): { body: string | FormData; headers: Record<string, string> } {
  const { clone, files } = extractFiles({ query, variables }, isExtractableFile);
  if (files.size === 0) return { body: JSON.stringify(clone), headers: { 'content-type': 'application/json' } };
  const form = new FormData();
  form.set('operations', JSON.stringify(clone));
  const parts = [...files.entries()];
  form.set('map', JSON.stringify(Object.fromEntries(parts.map(([, paths], i) => [String(i), paths]))));
  parts.forEach(([file], i) => {
    // A named file (an uploaded archive) keeps its name, which the server records; a Blob gets a placeholder.
    const name = typeof File !== 'undefined' && file instanceof File && file.name ? file.name : `file-${i}`;
    form.set(String(i), file as Blob, name);
  });
  // The server's CSRF protection admits multipart requests that carry this header (a browser form cannot).
  return { body: form, headers: { 'apollo-require-preflight': 'true' } };
}

/** Items split into requests of at most `maxItems`, each within `maxBytes` of encoded size (an item's
 *  `size` plus its JSON's share), in order; the sizes are not sent. */
export function requestChunks<T extends { size: number }>(items: T[], maxItems: number, maxBytes: number): Omit<T, 'size'>[][] {
  const chunks: Omit<T, 'size'>[][] = [];
  let current: Omit<T, 'size'>[] = [];
  let bytes = 0;
  for (const { size, ...item } of items) {
    const cost = size + 200;
    if (current.length > 0 && (current.length >= maxItems || bytes + cost > maxBytes)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += cost;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
