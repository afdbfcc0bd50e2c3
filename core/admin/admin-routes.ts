// The admin listener's routes: a method, a path whose `:name` segments are parameters, and
// whether a read is guarded like a change. A dozen fixed paths at most, so a list looked up
// in order; HEAD is answered by the GET route.

export interface AdminRequest {
  /** The path's `:name` segments, decoded. */
  params: Record<string, string>;
  query: URLSearchParams;
}

/** For an answer other than 200 with the handler's result as JSON: `reply.code(404).send({…})`. */
export interface AdminReply {
  code(status: number): AdminReply;
  type(contentType: string): AdminReply;
  send(body: unknown): AdminReply;
}

export type AdminHandler = (request: AdminRequest, reply: AdminReply) => Promise<unknown>;

export interface RouteOptions {
  /** A read that says more than probes and scrapes may know: the token (or loopback) is required. */
  guarded?: boolean;
}

/** Route options for a read that says more than probes and scrapes may know. */
export const GUARDED: RouteOptions = { guarded: true };

export interface AdminRoutes {
  get(path: string, handler: AdminHandler): void;
  get(path: string, options: RouteOptions, handler: AdminHandler): void;
  put(path: string, handler: AdminHandler): void;
  delete(path: string, handler: AdminHandler): void;
}

interface Route {
  method: string;
  segments: string[];
  guarded: boolean;
  handler: AdminHandler;
}

export class RouteTable implements AdminRoutes {
  readonly #routes: Route[] = [];

  get(path: string, a: AdminHandler | RouteOptions, b?: AdminHandler) {
    if (typeof a === "function") this.#add("GET", path, {}, a);
    else this.#add("GET", path, a, b as AdminHandler);
  }

  put(path: string, handler: AdminHandler) {
    this.#add("PUT", path, {}, handler);
  }

  delete(path: string, handler: AdminHandler) {
    this.#add("DELETE", path, {}, handler);
  }

  /** The route for a method and path, with the path's parameters; undefined when none matches. */
  find(method: string, pathname: string): { route: Route; params: Record<string, string> } | undefined {
    const parts = pathname.split("/");
    for (const route of this.#routes) {
      if (route.method !== method || route.segments.length !== parts.length) continue;
      const params = match(route.segments, parts);
      if (params) return { route, params };
    }
    return undefined;
  }

  #add(method: string, path: string, options: RouteOptions, handler: AdminHandler) {
    this.#routes.push({ method, segments: path.split("/"), guarded: options.guarded === true, handler });
  }
}

function match(segments: string[], parts: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] as string;
    const part = parts[i] as string;
    if (segment.startsWith(":")) {
      if (part === "") return undefined;
      try {
        params[segment.slice(1)] = decodeURIComponent(part);
      } catch {
        return undefined;
      }
    } else if (segment !== part) return undefined;
  }
  return params;
}
