// Condition types and reasons: the stable codes users match on in kubectl, Argo CD health
// checks and alerts. docs/reference/conditions.md explains each with its cause and fix.
export const ConditionType = {
  Accepted: "Accepted",
  ResolvedRefs: "ResolvedRefs",
  Conflicted: "Conflicted",
  Active: "Active",
  Fallback: "Fallback",
} as const;

export const Reason = {
  // Accepted
  Accepted: "Accepted",
  Invalid: "Invalid",
  TargetNotFound: "TargetNotFound",
  Conflicted: "Conflicted",
  TooLarge: "TooLarge",
  NamespaceBudgetExceeded: "NamespaceBudgetExceeded",
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
  UnsupportedApiVersion: "UnsupportedApiVersion",
  // Fallback: what is served instead of an object that is not accepted
  LastGoodServed: "LastGoodServed",
  FailClosed: "FailClosed",
  // Active (ApiKey)
  Active: "Active",
  Disabled: "Disabled",
  // Hostname ownership (the Gateway API's listener reasons): a route's host name belongs to
  // listeners that do not admit its namespace, or (when ownership is required) to none;
  // two listeners assign the same host name.
  NotAllowedByListeners: "NotAllowedByListeners",
  NoMatchingListenerHostname: "NoMatchingListenerHostname",
  HostnameConflict: "HostnameConflict",
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];
