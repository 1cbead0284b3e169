// Which route a request is for, from ROUTES alone: the local API routes with it, the authorizer
// builds its policy from the same paths. A path that exists with another method is a 405 naming
// the methods it has; a path that does not exist is a 404.
import { API_STAGE, ROUTES, type RouteDefinition } from './routes';

export type RouteMatch =
  | { readonly kind: 'route'; readonly route: RouteDefinition; readonly params: Readonly<Record<string, string>> }
  | { readonly kind: 'method_not_allowed'; readonly allowed: readonly string[] }
  /** A path segment is not valid percent-encoding. */
  | { readonly kind: 'bad_path'; readonly segment: string }
  | { readonly kind: 'not_found' };

interface CompiledRoute {
  readonly route: RouteDefinition;
  /** Literal segments as they are; `{name}` segments as a parameter name. */
  readonly segments: readonly ({ readonly literal: string } | { readonly param: string })[];
}

const compile = (route: RouteDefinition): CompiledRoute => ({
  route,
  segments: route.path
    .split('/')
    .filter(Boolean)
    .map((s) => (s.startsWith('{') && s.endsWith('}') ? { param: s.slice(1, -1) } : { literal: s })),
});

const COMPILED = ROUTES.map(compile);

/** A request path under the stage (`/v1/score`), without its query string. */
export function matchRoute(method: string, path: string, routes: readonly RouteDefinition[] = ROUTES): RouteMatch {
  const compiled = routes === ROUTES ? COMPILED : routes.map(compile);
  const raw = path.split('/').filter(Boolean);
  if (raw[0] !== API_STAGE) return { kind: 'not_found' };
  const rawSegments = raw.slice(1);
  const segments: string[] = [];
  for (const s of rawSegments) {
    try {
      segments.push(decodeURIComponent(s));
    } catch {
      return { kind: 'bad_path', segment: s };
    }
  }
  const allowed = new Set<string>();
  for (const c of compiled) {
    if (c.segments.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const fits = c.segments.every((s, i) => {
      const value = segments[i]!;
      if ('literal' in s) return s.literal === value;
      params[s.param] = value;
      return value !== '';
    });
    if (!fits) continue;
    if (c.route.method === method) return { kind: 'route', route: c.route, params };
    allowed.add(c.route.method);
  }
  return allowed.size > 0 ? { kind: 'method_not_allowed', allowed: [...allowed].sort() } : { kind: 'not_found' };
}
