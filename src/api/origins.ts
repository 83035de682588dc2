// Who may reach the server from a browser. A page's WebSocket is not held to the same-origin policy: any
// site the operator visits could open one to the server and read what anonymous reads allow, so an
// upgrade that carries an Origin must come from the server's own origin or an allowed one. On a loopback
// bind, the Host header must name a loopback host too: a DNS-rebinding page that points its own name at
// 127.0.0.1 sends its name, not ours.
import { isLoopback } from '../settings.js';

/** The hostname of a Host header (without its port), or undefined when it is not one. */
function hostnameOf(host: string): string | undefined {
  try {
    return new URL(`http://${host}`).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return undefined;
  }
}

/** Why a request's Host header is refused on this bind, or undefined when it is fine. */
export function hostProblem(boundHost: string, host: string | undefined): string | undefined {
  if (!isLoopback(boundHost)) return undefined;
  const name = host === undefined ? undefined : hostnameOf(host);
  if (name !== undefined && (isLoopback(name) || name.endsWith('.localhost'))) return undefined;
  return `this server listens on a loopback address and answers only requests for a loopback host (localhost, 127.0.0.1, [::1]); this one was for "${String(host).slice(0, 100)}"`;
}

/** Why a WebSocket upgrade's Origin is refused, or undefined when it is fine: none (a program, not a
 *  page), the server's own (the dashboard), or one in FASHION_HOW_ALLOWED_ORIGINS. */
export function originProblem(allowed: readonly string[], origin: string | undefined, host: string | undefined): string | undefined {
  if (origin === undefined) return undefined;
  let parsed: URL | undefined;
  try {
    parsed = new URL(origin);
  } catch {
    parsed = undefined;
  }
  if (parsed && (parsed.host === host || allowed.includes(parsed.origin))) return undefined;
  return `a page from ${String(origin).slice(0, 100)} may not open a WebSocket to this server: only its own origin and those in FASHION_HOW_ALLOWED_ORIGINS may`;
}
