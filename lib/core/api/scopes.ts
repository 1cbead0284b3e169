// Scopes from a token and what they open. Cognito's resource server names a scope
// `fathom/score`; an external OIDC issuer may name it `score`: both forms are read as the scope
// `score`. Anything else in the claim is ignored (an issuer may grant scopes of other APIs).
import { ROUTES, SCOPES, type RouteDefinition, type Scope } from './routes';

/** Cognito's resource-server identifier: scopes arrive as `fathom/<scope>`. */
export const SCOPE_RESOURCE_SERVER = 'fathom';

const KNOWN: ReadonlySet<string> = new Set(SCOPES);

/** The Fathom scopes in a `scope` claim (space-separated, RFC 8693 §4.2) or a `scp` list. */
export function scopesFromClaim(claim: unknown): Set<Scope> {
  const words = typeof claim === 'string' ? claim.split(/\s+/) : Array.isArray(claim) ? claim.filter((s): s is string => typeof s === 'string') : [];
  const out = new Set<Scope>();
  for (const word of words) {
    const bare = word.startsWith(`${SCOPE_RESOURCE_SERVER}/`) ? word.slice(SCOPE_RESOURCE_SERVER.length + 1) : word;
    if (KNOWN.has(bare)) out.add(bare as Scope);
  }
  return out;
}

/** A comma- or space-separated list of scopes, each checked; unknown ones are named. */
export function parseScopeList(list: string): { readonly scopes: Scope[]; readonly unknown: string[] } {
  const scopes: Scope[] = [];
  const unknown: string[] = [];
  for (const word of list.split(/[\s,]+/).filter(Boolean)) {
    const bare = word.startsWith(`${SCOPE_RESOURCE_SERVER}/`) ? word.slice(SCOPE_RESOURCE_SERVER.length + 1) : word;
    if (!KNOWN.has(bare)) unknown.push(word);
    else if (!scopes.includes(bare as Scope)) scopes.push(bare as Scope);
  }
  return { scopes, unknown };
}

/** The routes the scopes open. */
export function routesFor(scopes: ReadonlySet<Scope>, routes: readonly RouteDefinition[] = ROUTES): RouteDefinition[] {
  return routes.filter((r) => scopes.has(r.scope));
}

export interface IamPolicy {
  readonly Version: '2012-10-17';
  readonly Statement: readonly { readonly Action: 'execute-api:Invoke'; readonly Effect: 'Allow' | 'Deny'; readonly Resource: readonly string[] }[];
}

/**
 * The policy a Lambda authorizer answers: Allow on every route the scopes open, on the API and
 * stage of `methodArn` (`arn:aws:execute-api:<region>:<account>:<api>/<stage>/<METHOD>/<path>`).
 * Every allowed route, not only the one called: API Gateway caches the policy per token and
 * applies it to the token's later requests on other routes. With no route open, a Deny on the
 * whole stage (a policy must hold a statement).
 */
export function policyFor(methodArn: string, scopes: ReadonlySet<Scope>, routes: readonly RouteDefinition[] = ROUTES): IamPolicy {
  // `arn:…:<api>` then the stage: the first two `/`-separated parts.
  const [apiArn = '', stage = ''] = methodArn.split('/');
  const base = `${apiArn}/${stage || '*'}`;
  const resources = routesFor(scopes, routes).map((r) => `${base}/${r.method}${r.path.replace(/\{[^}]+\}/g, '*')}`);
  if (resources.length === 0) return { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Deny', Resource: [`${base}/*`] }] };
  return { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: resources }] };
}
