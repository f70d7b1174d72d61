{{/* The chart's name. */}}
{{- define "vrs.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The objects' name: the release's when it already holds the chart's name. */}}
{{- define "vrs.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "vrs.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vrs.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "vrs.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "vrs.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: backup
{{- end }}

{{- define "vrs.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "vrs.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "vrs.credentialsSecret" -}}
{{- default (printf "%s-credentials" (include "vrs.fullname" .)) .Values.credentials.secretName }}
{{- end }}

{{- define "vrs.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
The agent's config as JSON: config from values, with what the mode implies filled in where
values leave it unset.
*/}}
{{- define "vrs.config" -}}
{{- $c := deepCopy .Values.config }}
{{- if eq .Values.mode "sidecar" }}
{{- if not (hasKey $c "addr") }}{{- $_ := set $c "addr" "http://127.0.0.1:8200" }}{{- end }}
{{- if not (hasKey $c "leader_check") }}{{- $_ := set $c "leader_check" "auto" }}{{- end }}
{{- else }}
{{- $ns := default .Release.Namespace .Values.vault.namespace }}
{{- if not (hasKey $c "addr") }}
{{- $_ := set $c "addr" (printf "%s://%s.%s.svc:%v" .Values.vault.scheme .Values.vault.activeService $ns (int .Values.vault.port)) }}
{{- end }}
{{- if not (hasKey $c "leader_check") }}{{- $_ := set $c "leader_check" "is_self" }}{{- end }}
{{- end }}
{{- if not (hasKey $c "temp_dir") }}{{- $_ := set $c "temp_dir" .Values.staging.mountPath }}{{- end }}
{{- if not (hasKey $c "log_format") }}{{- $_ := set $c "log_format" "json" }}{{- end }}
{{- if and (ne .Values.mode "cronjob") .Values.metrics.listen (not (hasKey $c "metrics_listen")) }}
{{- $_ := set $c "metrics_listen" .Values.metrics.listen }}
{{- end }}
{{- if and (eq .Values.mode "cronjob") .Values.metrics.pushUrl (not (hasKey $c "metrics_push_url")) }}
{{- $_ := set $c "metrics_push_url" .Values.metrics.pushUrl }}
{{- end }}
{{- toPrettyJson $c }}
{{- end }}

{{/* The port of metrics_listen ("host:port", "[::]:port"), or "" when it is not served. */}}
{{- define "vrs.metricsPort" -}}
{{- $c := include "vrs.config" . | fromJson }}
{{- with $c.metrics_listen }}{{ regexReplaceAll "^.*:" . "" }}{{- end }}
{{- end }}

{{/* The volumes of the agent's pod. */}}
{{- define "vrs.volumes" -}}
- name: config
  configMap:
    name: {{ include "vrs.fullname" . }}
- name: credentials
  secret:
    secretName: {{ include "vrs.credentialsSecret" . }}
    optional: {{ .Values.credentials.optional }}
- name: staging
  emptyDir:
    sizeLimit: {{ .Values.staging.sizeLimit }}
{{- if .Values.persistence.enabled }}
- name: snapshots
  persistentVolumeClaim:
    claimName: {{ default (printf "%s-snapshots" (include "vrs.fullname" .)) .Values.persistence.existingClaim }}
{{- end }}
{{- end }}

{{/* The agent's container; `command` is once or run. */}}
{{- define "vrs.container" -}}
{{- $root := .root }}
- name: vault-raft-snapshot
  image: {{ include "vrs.image" $root }}
  imagePullPolicy: {{ $root.Values.image.pullPolicy }}
  args: [{{ .command | quote }}, "--config", "/etc/vault.d/snapshot.json"]
  {{- with $root.Values.env }}
  env:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- $port := include "vrs.metricsPort" $root }}
  {{- if and (eq .command "run") $port }}
  ports:
    - name: metrics
      containerPort: {{ $port }}
      protocol: TCP
  livenessProbe:
    httpGet:
      path: /healthz
      port: metrics
    {{- toYaml $root.Values.deployment.livenessProbe | nindent 4 }}
  {{- if not .prefix }}
  {{- /* Not in a Vault pod: its readiness would take Vault out of its Services. */}}
  readinessProbe:
    httpGet:
      path: /readyz
      port: metrics
    {{- toYaml $root.Values.deployment.readinessProbe | nindent 4 }}
  {{- end }}
  {{- end }}
  {{- $security := deepCopy $root.Values.securityContext }}
  {{- if .prefix }}
  {{- /* In a Vault pod, whose pod securityContext runs Vault's user: the agent's own. */}}
  {{- range $key := list "runAsUser" "runAsGroup" }}
  {{- if and (hasKey $root.Values.podSecurityContext $key) (not (hasKey $security $key)) }}
  {{- $_ := set $security $key (get $root.Values.podSecurityContext $key) }}
  {{- end }}
  {{- end }}
  {{- end }}
  securityContext:
    {{- toYaml $security | nindent 4 }}
  resources:
    {{- toYaml $root.Values.resources | nindent 4 }}
  volumeMounts:
    - name: {{ .prefix }}config
      mountPath: /etc/vault.d
      readOnly: true
    - name: {{ .prefix }}credentials
      mountPath: {{ $root.Values.credentials.mountPath }}
      readOnly: true
    - name: {{ .prefix }}staging
      mountPath: {{ $root.Values.staging.mountPath }}
    {{- if $root.Values.persistence.enabled }}
    - name: {{ .prefix }}snapshots
      mountPath: {{ $root.Values.persistence.mountPath }}
    {{- end }}
{{- end }}

{{/* The pod spec of the CronJob's Jobs and of the Deployment. */}}
{{- define "vrs.podSpec" -}}
serviceAccountName: {{ include "vrs.serviceAccountName" .root }}
{{- with .root.Values.hostname }}
hostname: {{ . }}
{{- end }}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
containers:
  {{- include "vrs.container" (dict "root" .root "command" .command "prefix" "") | trim | nindent 2 }}
volumes:
  {{- include "vrs.volumes" .root | nindent 2 }}
{{- with .root.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .root.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .root.Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The pod template's metadata: labels, and the config's checksum so a change rolls the pod. */}}
{{- define "vrs.podMetadata" -}}
labels:
  {{- include "vrs.selectorLabels" . | nindent 2 }}
  {{- with .Values.podLabels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
annotations:
  checksum/config: {{ include "vrs.config" . | sha256sum }}
  {{- with .Values.podAnnotations }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}

{{/*
sidecar mode: the values for the vault-helm/openbao-helm chart that add the agent to its server
pods (server.extraContainers and server.volumes), printed by NOTES.txt.
*/}}
{{- define "vrs.sidecarValues" -}}
server:
  extraContainers:
    {{- include "vrs.container" (dict "root" . "command" "run" "prefix" "vault-raft-snapshot-") | trim | nindent 4 }}
  volumes:
    {{- include "vrs.volumes" . | replace "- name: " "- name: vault-raft-snapshot-" | nindent 4 }}
{{- end }}
