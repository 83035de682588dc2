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
    form.set(String(i), file as Blob, `file-${i}`);
  });
  // The server's CSRF protection admits multipart requests that carry this header (a browser form cannot).
  return { body: form, headers: { 'apollo-require-preflight': 'true' } };
}
