// Condition types and reasons: the stable codes users match on in kubectl, Argo CD health
// checks and alerts. docs/reference/conditions.md explains each with its cause and fix.
export const ConditionType = {
  Accepted: "Accepted",
  ResolvedRefs: "ResolvedRefs",
  Conflicted: "Conflicted",
  Active: "Active",
} as const;

export const Reason = {
  // Accepted
  Accepted: "Accepted",
  Invalid: "Invalid",
  TargetNotFound: "TargetNotFound",
  Conflicted: "Conflicted",
  // ResolvedRefs
  ResolvedRefs: "ResolvedRefs",
  BackendNotFound: "BackendNotFound",
  RefNotPermitted: "RefNotPermitted",
  ServiceNotFound: "ServiceNotFound",
  PortNotFound: "PortNotFound",
  SecretNotFound: "SecretNotFound",
  InvalidSecret: "InvalidSecret",
  // Conflicted
  MatchConflict: "MatchConflict",
  TargetConflict: "TargetConflict",
  // Active (ApiKey)
  Active: "Active",
  Disabled: "Disabled",
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];
