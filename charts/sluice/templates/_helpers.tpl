{{/* Names. A release called "sluice" renders the names of config/ (sluice-operator, …). */}}
{{- define "sluice.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sluice.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "sluice.operator.fullname" -}}{{ include "sluice.fullname" . }}-operator{{- end -}}
{{- define "sluice.gateway.fullname" -}}{{ include "sluice.fullname" . }}-gateway{{- end -}}
{{- define "sluice.snapshotSecret" -}}{{ default (printf "%s-snapshot" (include "sluice.fullname" .)) .Values.snapshotSecretName }}{{- end -}}
{{- define "sluice.leaseName" -}}{{ default (include "sluice.operator.fullname" .) .Values.operator.leaseName }}{{- end -}}
{{- define "sluice.hashKeySecret" -}}{{ default (printf "%s-api-key-hash-key" (include "sluice.fullname" .)) .Values.apiKeyHashKey.existingSecret }}{{- end -}}

{{- define "sluice.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}
{{- end -}}

{{/* Selector labels: stable across upgrades (never the chart version). */}}
{{- define "sluice.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sluice.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "sluice.labels" -}}
{{ include "sluice.selectorLabels" . }}
app.kubernetes.io/part-of: sluice
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The gateway's grace period: preStop sleep + drain + 5 s, or the value if it is enough. */}}
{{- define "sluice.gateway.grace" -}}
{{- $g := .Values.gateway -}}
{{- $needed := add $g.preStopSleepSeconds (div (add $g.drainMs 999) 1000) -}}
{{- if kindIs "invalid" $g.terminationGracePeriodSeconds -}}
{{- add $needed 5 -}}
{{- else if lt (int $g.terminationGracePeriodSeconds) (int $needed) -}}
{{- fail (printf "gateway.terminationGracePeriodSeconds (%v) must be at least gateway.preStopSleepSeconds + gateway.drainMs (%v s), or in-flight requests are cut before the drain ends" $g.terminationGracePeriodSeconds $needed) -}}
{{- else -}}
{{- $g.terminationGracePeriodSeconds | int64 -}}
{{- end -}}
{{- end -}}

{{/* The gateway's --workers: gateway.workers, else its CPU limit rounded up ("2" → 2,
"1500m" → 2, 0.5 → 1), at most 64; empty without either (the gateway then reads its cgroup:
1 process without a limit). */}}
{{- define "sluice.gateway.workers" -}}
{{- $g := .Values.gateway -}}
{{- if not (kindIs "invalid" $g.workers) -}}
{{- $g.workers | int64 -}}
{{- else -}}
{{- $cpu := toString (dig "limits" "cpu" "" ($g.resources | default dict)) -}}
{{- if $cpu -}}
{{- $cores := 0 -}}
{{- if hasSuffix "m" $cpu -}}
{{- $cores = div (add (trimSuffix "m" $cpu | int64) 999) 1000 -}}
{{- else -}}
{{- $cores = $cpu | float64 | ceil | int64 -}}
{{- end -}}
{{- max 1 (min 64 $cores) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A {name, key} Secret reference as an env var source. */}}
{{- define "sluice.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef: {name: {{ .ref.name }}, key: {{ .ref.key }}}
{{- end -}}

{{/* The pod's own name and namespace, used in args as $(POD_NAME) / $(POD_NAMESPACE). */}}
{{- define "sluice.downwardEnv" -}}
- name: POD_NAME
  valueFrom:
    fieldRef: {fieldPath: metadata.name}
- name: POD_NAMESPACE
  valueFrom:
    fieldRef: {fieldPath: metadata.namespace}
{{- end -}}
