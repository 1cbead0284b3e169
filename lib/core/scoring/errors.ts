// Errors of the scoring path, and the one mapping from any error to what a client is told. The
// mapping keeps internals (stack traces, table names, ARNs, registry keys) out of 5xx answers: the
// full error goes to the function's log, the client gets a code, a fixed message and its request id.
import { FathomError, ResourceError, ValidationError } from '../errors';

/** No production version of the model name: nothing to serve. */
export class ModelNotFoundError extends FathomError {
  readonly field = 'model';
  constructor(readonly model: string) {
    super(`model ${model} has no production version`, 'model_not_found');
  }
}

/** The model's tier has no backend in this deployment (only `cpu` is served in process for now). */
export class TierNotDeployedError extends FathomError {
  readonly field = 'model';
  constructor(
    readonly model: string,
    readonly version: string,
    readonly tier: string,
    readonly deployed: readonly string[],
  ) {
    super(`model ${model} version ${version} runs on tier '${tier}', which is not deployed here (deployed: ${deployed.join(', ') || 'none'})`, 'tier_not_deployed');
  }
}

/** A manifest the scoring core must not serve: its features are not what the engine computes. */
export class ModelIncompatibleError extends FathomError {
  constructor(
    message: string,
    /** The manifest field at fault, e.g. `manifest.feature_set` or `manifest.features[3]`. */
    readonly field: string,
  ) {
    super(message, 'model_incompatible');
  }
}

/** The model could not be made ready (verification, download or load failed); `cause` says why. */
export class ModelUnavailableError extends FathomError {
  constructor(
    readonly model: string,
    readonly version: string | undefined,
    override readonly cause: unknown,
  ) {
    super(`model ${model}${version ? ` version ${version}` : ''} could not be loaded: ${cause instanceof Error ? cause.message : String(cause)}`, 'model_unavailable');
  }
}

export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly field?: string; readonly request_id: string };
}

export interface ErrorAnswer {
  readonly status: number;
  readonly body: ErrorBody;
  /** True when the caller's input was at fault (log at warn); false for the platform's own failures (log at error). */
  readonly clientError: boolean;
}

/** What the client is told about `error`. Messages of 4xx answers are the error's own (they name only the client's input). */
export function errorAnswer(error: unknown, requestId: string): ErrorAnswer {
  const answer = (status: number, code: string, message: string, field?: string): ErrorAnswer => ({
    status,
    clientError: status < 500,
    body: { error: { code, message, ...(field !== undefined ? { field } : {}), request_id: requestId } },
  });
  if (error instanceof ValidationError) return answer(400, error.code, error.message, error.field);
  if (error instanceof ModelNotFoundError) return answer(404, error.code, error.message, error.field);
  if (error instanceof TierNotDeployedError) return answer(501, error.code, error.message, error.field);
  if (error instanceof ModelIncompatibleError || error instanceof ModelUnavailableError) {
    return answer(503, 'model_unavailable', 'the model cannot be served right now; the request id finds the cause in the logs');
  }
  if (error instanceof ResourceError && error.retryable) return answer(503, 'unavailable', 'a dependency is temporarily unavailable; retry with backoff');
  return answer(500, 'internal_error', 'internal error; the request id finds the cause in the logs');
}
