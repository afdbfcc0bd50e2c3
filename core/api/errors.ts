// The error registry: every error Sluice raises on purpose has a stable `code`, and every code
// is defined here, once, with one class (as undici's lib/core/errors.js and fastify's
// lib/errors.js do). Callers match on `error.code` (or the class), never on the message,
// which is for people and may change. docs/reference/errors.md documents every code with
// its cause and fix; errors.test.ts fails when one is missing there.

export const ErrorCode = {
  /** A flag, environment variable or config file value is invalid. */
  SLUICE_CONFIG_INVALID: "SLUICE_CONFIG_INVALID",
  /** A snapshot failed validation or could not be built; the previous one keeps serving. */
  SLUICE_SNAPSHOT_REJECTED: "SLUICE_SNAPSHOT_REJECTED",
  /** The standalone directory could not be read or parsed. */
  SLUICE_SOURCE_UNREADABLE: "SLUICE_SOURCE_UNREADABLE",
  /** With --workers: a worker could not start, or workers kept exiting; the gateway stops. */
  SLUICE_WORKERS_FAILED: "SLUICE_WORKERS_FAILED",
  /** A constructor or function was given an option it cannot work with (a programming error). */
  SLUICE_INVALID_ARGUMENT: "SLUICE_INVALID_ARGUMENT",
  /** The Kubernetes API answered with a status other than 2xx. */
  SLUICE_KUBERNETES_API_STATUS: "SLUICE_KUBERNETES_API_STATUS",
  /** An upstream attempt or the whole request passed its timeout. */
  SLUICE_BACKEND_TIMEOUT: "SLUICE_BACKEND_TIMEOUT",
  /** The rate-limit store did not answer within its timeout. */
  SLUICE_RATELIMIT_TIMEOUT: "SLUICE_RATELIMIT_TIMEOUT",
  /** No JWKS keys could be had: the identity provider has not answered since the start. */
  SLUICE_JWKS_UNAVAILABLE: "SLUICE_JWKS_UNAVAILABLE",
  /** A token names no key (`kid`) and the JWKS holds several. */
  SLUICE_JWT_AMBIGUOUS_KEY: "SLUICE_JWT_AMBIGUOUS_KEY",
} as const;
export type ErrorCode = keyof typeof ErrorCode;

/** The base of every Sluice error. */
export class SluiceError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = "SluiceError";
  }
}

/** Is this a Sluice error with this code? For errors that crossed a boundary untyped. */
export function hasCode(err: unknown, code: ErrorCode): boolean {
  return (err as { code?: unknown } | null | undefined)?.code === code;
}

// --- Process errors: what stops a gateway or operator from starting, or a snapshot from
// loading. Their message starts with the code, since people read it in a terminal or log.

export const GatewayErrorCode = {
  SLUICE_CONFIG_INVALID: ErrorCode.SLUICE_CONFIG_INVALID,
  SLUICE_SNAPSHOT_REJECTED: ErrorCode.SLUICE_SNAPSHOT_REJECTED,
  SLUICE_SOURCE_UNREADABLE: ErrorCode.SLUICE_SOURCE_UNREADABLE,
  SLUICE_WORKERS_FAILED: ErrorCode.SLUICE_WORKERS_FAILED,
} as const;
export type GatewayErrorCode = keyof typeof GatewayErrorCode;

export class GatewayError extends SluiceError {
  declare readonly code: GatewayErrorCode;

  constructor(code: GatewayErrorCode, message: string) {
    super(code, `${code}: ${message}`);
    this.name = "GatewayError";
  }
}

/** A flag, SLUICE_* variable or config file value is invalid (the CLI exits with status 2). */
export class ConfigInvalidError extends GatewayError {
  declare readonly code: "SLUICE_CONFIG_INVALID";
  constructor(message: string) {
    super(ErrorCode.SLUICE_CONFIG_INVALID, message);
    this.name = "ConfigInvalidError";
  }
}

export class SnapshotRejectedError extends GatewayError {
  declare readonly code: "SLUICE_SNAPSHOT_REJECTED";
  constructor(message: string) {
    super(ErrorCode.SLUICE_SNAPSHOT_REJECTED, message);
    this.name = "SnapshotRejectedError";
  }
}

export class SourceUnreadableError extends GatewayError {
  declare readonly code: "SLUICE_SOURCE_UNREADABLE";
  constructor(message: string) {
    super(ErrorCode.SLUICE_SOURCE_UNREADABLE, message);
    this.name = "SourceUnreadableError";
  }
}

/** With --workers: a worker could not start, or workers kept exiting (the process exits 1). */
export class WorkersFailedError extends GatewayError {
  declare readonly code: "SLUICE_WORKERS_FAILED";
  constructor(message: string) {
    super(ErrorCode.SLUICE_WORKERS_FAILED, message);
    this.name = "WorkersFailedError";
  }
}

// --- Library errors: raised by one component and handled by another.

/** A bad option, thrown at once by the constructor rather than on first use. */
export class InvalidArgumentError extends SluiceError {
  declare readonly code: "SLUICE_INVALID_ARGUMENT";
  constructor(message: string) {
    super(ErrorCode.SLUICE_INVALID_ARGUMENT, message);
    this.name = "InvalidArgumentError";
  }
}

/** A non-2xx answer from the Kubernetes API; `status` is what callers branch on (404, 409…). */
export class KubernetesApiError extends SluiceError {
  declare readonly code: "SLUICE_KUBERNETES_API_STATUS";
  readonly status: number;
  readonly body: unknown;

  constructor(status: number, method: string, path: string, body: unknown) {
    const message = (body as { message?: string } | undefined)?.message ?? JSON.stringify(body);
    super(ErrorCode.SLUICE_KUBERNETES_API_STATUS, `${method} ${path}: ${status} ${message}`);
    this.name = "KubernetesApiError";
    this.status = status;
    this.body = body;
  }
}

/** The reason an upstream attempt (or the whole request) is aborted when its timeout passes. */
export class BackendTimeoutError extends SluiceError {
  declare readonly code: "SLUICE_BACKEND_TIMEOUT";
  constructor(message: string) {
    super(ErrorCode.SLUICE_BACKEND_TIMEOUT, message);
    this.name = "BackendTimeoutError";
  }
}

export class RateLimitTimeoutError extends SluiceError {
  declare readonly code: "SLUICE_RATELIMIT_TIMEOUT";
  constructor(ms: number) {
    super(ErrorCode.SLUICE_RATELIMIT_TIMEOUT, `rate-limit store did not answer within ${ms} ms`);
    this.name = "RateLimitTimeoutError";
  }
}

/** Keys could not be had: the IdP has not answered since we started. Not the client's fault. */
export class JwksUnavailableError extends SluiceError {
  declare readonly code: "SLUICE_JWKS_UNAVAILABLE";
  constructor(message: string) {
    super(ErrorCode.SLUICE_JWKS_UNAVAILABLE, message);
    this.name = "JwksUnavailableError";
  }
}

export class JwtAmbiguousKeyError extends SluiceError {
  declare readonly code: "SLUICE_JWT_AMBIGUOUS_KEY";
  constructor(message: string) {
    super(ErrorCode.SLUICE_JWT_AMBIGUOUS_KEY, message);
    this.name = "JwtAmbiguousKeyError";
  }
}
