/**
 * The path and query of an HTTP request target, from the raw string a client
 * sent. `new URL(raw, base)` throws on inputs such as `//`, `//[::` or
 * `//:99999` (it reads them as a host), and one client must not be able to
 * throw out of a handler; this never throws and never reads a host from the
 * target: origin-form (`/p?q`) and absolute-form (`http://h/p?q`, as proxies
 * send) both give their path, anything else is just a path that matches nothing.
 */
export interface RequestTarget {
  path: string;
  query: URLSearchParams;
}

const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/;

export function parseRequestTarget(raw: string | undefined): RequestTarget {
  let target = raw ?? '/';
  const hash = target.indexOf('#');
  if (hash >= 0) target = target.slice(0, hash);
  const absolute = ABSOLUTE_FORM.exec(target);
  if (absolute) target = target.slice(absolute[0].length) || '/';
  const q = target.indexOf('?');
  const path = q >= 0 ? target.slice(0, q) : target;
  // URLSearchParams leaves malformed percent escapes as they are instead of throwing
  const query = new URLSearchParams(q >= 0 ? target.slice(q + 1) : '');
  return { path, query };
}
