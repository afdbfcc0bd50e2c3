// Errors the gateway process raises, each with a stable code (see docs/reference/errors.md).
export const GatewayErrorCode = {
  /** A flag, environment variable or config file value is invalid. */
  SLUICE_CONFIG_INVALID: "SLUICE_CONFIG_INVALID",
  /** A snapshot failed validation or could not be built; the previous one keeps serving. */
  SLUICE_SNAPSHOT_REJECTED: "SLUICE_SNAPSHOT_REJECTED",
  /** The standalone directory could not be read or parsed. */
  SLUICE_SOURCE_UNREADABLE: "SLUICE_SOURCE_UNREADABLE",
} as const;
export type GatewayErrorCode = keyof typeof GatewayErrorCode;

export class GatewayError extends Error {
  readonly code: GatewayErrorCode;

  constructor(code: GatewayErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.code = code;
    this.name = "GatewayError";
  }
}
