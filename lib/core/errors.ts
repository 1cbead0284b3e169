// Typed errors: each names the field or resource at fault, so an edge can answer precisely.

export class FathomError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Input that failed validation; `field` is a dotted path such as `amount` or `records[3].event_time`. */
export class ValidationError extends FathomError {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message, 'validation_error');
  }
}

/** A resource (table, stream, item) refused or failed an operation. */
export class ResourceError extends FathomError {
  constructor(
    message: string,
    readonly resource: string,
    readonly retryable: boolean,
  ) {
    super(message, retryable ? 'resource_retryable' : 'resource_error');
  }
}

/** A configuration value is missing or out of range. */
export class ConfigError extends FathomError {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message, 'config_error');
  }
}

/**
 * A model package failed verification and must not be loaded. `check` names what failed
 * (`manifest`, `manifest.version`, `onnx_sha256`, `signature`, `key`); `resource` names the
 * package (`<name>@<version>`) or the key.
 */
export class SignatureError extends FathomError {
  constructor(
    message: string,
    readonly check: string,
    readonly resource: string,
  ) {
    super(message, 'signature_error');
  }
}

/** A registry state change the lifecycle policy refuses; names the model, the version and both states. */
export class TransitionError extends FathomError {
  constructor(
    message: string,
    readonly model: string,
    readonly version: string | undefined,
    readonly from: string | null,
    readonly to: string,
  ) {
    super(message, 'transition_error');
  }
}
