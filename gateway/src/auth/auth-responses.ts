// What a refused request gets. Every 401 of a policy has the same body, whatever the
// cause (unknown key, expired key, bad signature, wrong issuer): telling them apart
// would tell an attacker which guesses are getting warm. The cause goes to logs only.
import { Problem } from "../problem.ts";

export const AuthProblem = { Unauthorized: Problem.Unauthorized, Forbidden: Problem.Forbidden } as const;

export type AuthProblemKind = (typeof AuthProblem)[keyof typeof AuthProblem];

/**
 * WWW-Authenticate for a 401 (RFC 9110 §11.6.1): one challenge per accepted method.
 * Bearer carries error="invalid_token" only when a token was presented and refused
 * (RFC 6750 §3.1: a request without a token gets no error code). API keys have no
 * registered scheme; "ApiKey" names ours.
 */
export function challengeHeader(accepts: { jwt: boolean; apiKey: boolean }, invalidToken: boolean): string {
  const challenges: string[] = [];
  if (accepts.jwt) challenges.push(invalidToken ? 'Bearer error="invalid_token"' : "Bearer");
  if (accepts.apiKey) challenges.push("ApiKey");
  return challenges.join(", ");
}

/** The problem+json body (RFC 9457), with no detail. */
export function problemBody(problem: AuthProblemKind): string {
  return JSON.stringify({ type: problem.type, title: problem.title, status: problem.status });
}
