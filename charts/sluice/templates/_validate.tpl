{{/*
Rules between values that values.schema.json cannot express (JSON Schema checks one value at a
time). Every broken rule is collected and the render fails once, naming each value and what it
is set to, so a bad combination is refused by `helm install` / `helm template` instead of
surfacing later as a crash loop, a stuck drain or a Prometheus that drops the scrape config.
Rendered by validate.yaml; e2e/helm/chart-validation.test.ts holds a case per rule.
*/}}
{{- define "sluice.validate" -}}
{{- $problems := list -}}
{{- $o := .Values.operator -}}
{{- $g := .Values.gateway -}}

{{- /* The operator's leader election (checkLeaderElectionTimes in core/kubernetes/leader-election.ts
refuses the same at start with SLUICE_CONFIG_INVALID): a leader must stop leading before its
Lease can be taken over, and must get more than one renewal attempt before it gives up. */ -}}
{{- if ge (int64 $o.renewDeadlineMs) (int64 $o.leaseDurationMs) -}}
{{- $problems = append $problems (printf "operator.renewDeadlineMs (%v) must be less than operator.leaseDurationMs (%v): a leader that cannot renew must stop before another replica may take the Lease over" $o.renewDeadlineMs $o.leaseDurationMs) -}}
{{- end -}}
{{- if ge (int64 $o.retryPeriodMs) (int64 $o.renewDeadlineMs) -}}
{{- $problems = append $problems (printf "operator.retryPeriodMs (%v) must be less than operator.renewDeadlineMs (%v): the leader must be able to retry a failed renewal before its deadline" $o.retryPeriodMs $o.renewDeadlineMs) -}}
{{- end -}}

{{- /* Both gateway listeners bind in one pod. */ -}}
{{- if eq (int64 $g.port) (int64 $g.adminPort) -}}
{{- $problems = append $problems (printf "gateway.adminPort (%v) must differ from gateway.port (%v): both listeners bind in the same pod" $g.adminPort $g.port) -}}
{{- end -}}

{{- $a := $g.autoscaling -}}
{{- if and $a.enabled (gt (int64 $a.minReplicas) (int64 $a.maxReplicas)) -}}
{{- $problems = append $problems (printf "gateway.autoscaling.minReplicas (%v) must not exceed gateway.autoscaling.maxReplicas (%v)" $a.minReplicas $a.maxReplicas) -}}
{{- end -}}

{{- /* A PodDisruptionBudget that allows no disruption blocks every node drain. Checked where
poddisruptionbudgets.yaml renders one: more than one replica, or (gateway) an HPA, whose
minReplicas is then the floor. */ -}}
{{- range $component := list "operator" "gateway" -}}
{{- $v := index $.Values $component -}}
{{- $scaled := and (eq $component "gateway") $v.autoscaling.enabled -}}
{{- $pdb := $v.podDisruptionBudget -}}
{{- if and $pdb.enabled (or $scaled (gt (int64 $v.replicas) 1)) -}}
{{- $floorName := printf "%s.replicas" $component -}}
{{- $floor := $v.replicas -}}
{{- if $scaled -}}
{{- $floorName = printf "%s.autoscaling.minReplicas" $component -}}
{{- $floor = $v.autoscaling.minReplicas -}}
{{- end -}}
{{- $min := $pdb.minAvailable -}}
{{- if kindIs "string" $min -}}
{{- if ge (trimSuffix "%" $min | int64) 100 -}}
{{- $problems = append $problems (printf "%s.podDisruptionBudget.minAvailable (%s) must be below 100%%: the budget would block every node drain" $component $min) -}}
{{- end -}}
{{- else if ge (int64 $min) (int64 $floor) -}}
{{- $problems = append $problems (printf "%s.podDisruptionBudget.minAvailable (%v) must be less than %s (%v): the budget would block every node drain" $component $min $floorName $floor) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- /* A probe that may take longer than its period overlaps the next one; the kubelet then
reports failures late. Kubernetes' defaults stand in for fields left out. */ -}}
{{- range $component := list "operator" "gateway" -}}
{{- range $probe := list "livenessProbe" "readinessProbe" -}}
{{- $p := index (index $.Values $component) $probe | default dict -}}
{{- $timeout := $p.timeoutSeconds | default 1 -}}
{{- $period := $p.periodSeconds | default 10 -}}
{{- if gt (int64 $timeout) (int64 $period) -}}
{{- $problems = append $problems (printf "%s.%s.timeoutSeconds (%v) must not exceed %s.%s.periodSeconds (%v)" $component $probe $timeout $component $probe $period) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- /* Prometheus refuses a scrape config whose timeout exceeds its interval. */ -}}
{{- $sm := .Values.metrics.serviceMonitor -}}
{{- if $sm.enabled -}}
{{- $interval := include "sluice.durationMs" $sm.interval | int64 -}}
{{- $scrapeTimeout := include "sluice.durationMs" $sm.scrapeTimeout | int64 -}}
{{- if gt $scrapeTimeout $interval -}}
{{- $problems = append $problems (printf "metrics.serviceMonitor.scrapeTimeout (%s) must not exceed metrics.serviceMonitor.interval (%s): Prometheus refuses the scrape config" $sm.scrapeTimeout $sm.interval) -}}
{{- end -}}
{{- end -}}

{{- with $problems -}}
{{- fail (printf "invalid values:\n- %s" (join "\n- " .)) -}}
{{- end -}}
{{- end -}}

{{/* A duration as values.schema.json allows it ("500ms", "30s", "1m", "2h") in milliseconds. */}}
{{- define "sluice.durationMs" -}}
{{- $n := regexFind "^[0-9]+" . | int64 -}}
{{- $unit := trimPrefix (regexFind "^[0-9]+" .) . -}}
{{- mul $n (get (dict "ms" 1 "s" 1000 "m" 60000 "h" 3600000) $unit) -}}
{{- end -}}
