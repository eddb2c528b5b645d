{{/*
Standard helpers. Every name is truncated to 63 characters (the DNS label limit) and stripped of a
trailing dash left by the cut.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "mkd.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The full name: fullnameOverride, or release name + chart name (once if the release already holds it). */}}
{{- define "mkd.fullname" -}}
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

{{/* Chart name and version, as used by the helm.sh/chart label. */}}
{{- define "mkd.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that select this release's pods. */}}
{{- define "mkd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mkd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Common labels of every object. */}}
{{- define "mkd.labels" -}}
helm.sh/chart: {{ include "mkd.chart" . }}
{{ include "mkd.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mkd
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The ServiceAccount name the Ray pods run as. */}}
{{- define "mkd.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "mkd.fullname" .) .Values.serviceAccount.name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- default "default" .Values.serviceAccount.name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
KubeRay refuses RayService and RayJob names over 47 characters (it derives longer child names).
Call with (dict "root" $ "suffix" "label-run1"); an empty suffix gives the RayService name.
*/}}
{{- define "mkd.rayName" -}}
{{- $full := include "mkd.fullname" .root }}
{{- if .suffix }}
{{- $room := int (sub 46 (len .suffix)) }}
{{- printf "%s-%s" ($full | trunc $room | trimSuffix "-") .suffix | trunc 47 | trimSuffix "-" }}
{{- else }}
{{- $full | trunc 47 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* Name of the ConfigMap holding /config/pipeline.yaml. */}}
{{- define "mkd.configMapName" -}}
{{- printf "%s-config" (include "mkd.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* CPU image reference. */}}
{{- define "mkd.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* GPU image of the Serve cluster and the label job (Dockerfile.gpu, MKD_EXTRA=gpu-serve: vLLM). */}}
{{- define "mkd.gpuImage" -}}
{{- printf "%s:%s" .Values.image.gpuRepository (default (printf "%s-cuda" .Chart.AppVersion) .Values.image.gpuTag) }}
{{- end }}

{{/* GPU image of the other jobs (Dockerfile.gpu, MKD_EXTRA=gpu-train: Unsloth, DeepSpeed,
bitsandbytes); vLLM and Unsloth pin different torch builds, so they never share an image. */}}
{{- define "mkd.gpuTrainImage" -}}
{{- printf "%s:%s" .Values.image.gpuRepository (default (printf "%s-cuda-train" .Chart.AppVersion) .Values.image.gpuTrainTag) }}
{{- end }}

{{/* The artifact store URI built from store.bucket and store.prefix. */}}
{{- define "mkd.storeUri" -}}
{{- $prefix := trimAll "/" .Values.store.prefix }}
{{- if $prefix }}
{{- printf "s3://%s/%s" .Values.store.bucket $prefix }}
{{- else }}
{{- printf "s3://%s" .Values.store.bucket }}
{{- end }}
{{- end }}

{{/*
The artifact store (mkd.config.StoreConfig) of BOTH the pipeline config the RayJobs read and the
Serve app's args: uri from store.bucket/prefix, region and endpoint from store.*, explicit
pipeline.store settings win. No credentials: pods get them from their role (IRSA or EKS Pod
Identity) or from AWS_* variables in their environment, never from values.
*/}}
{{- define "mkd.storeConfig" -}}
{{- $s3 := dict "region" .Values.store.region }}
{{- if .Values.store.endpointUrl }}
{{- $_ := set $s3 "endpoint_url" .Values.store.endpointUrl }}
{{- end }}
{{- $store := dict "uri" (include "mkd.storeUri" .) "s3" $s3 }}
{{- toYaml (mergeOverwrite $store (deepCopy (default dict .Values.pipeline.store))) }}
{{- end }}

{{/*
The pipeline config written to the ConfigMap: values.pipeline with `store` from mkd.storeConfig and
`teacher` from teacher.* (explicit pipeline.store / pipeline.teacher settings win). The API key is a
${VAR} reference that the config loader interpolates from the Secret-backed environment.
*/}}
{{- define "mkd.pipelineConfig" -}}
{{- $cfg := deepCopy .Values.pipeline }}
{{- $_ := set $cfg "store" (include "mkd.storeConfig" . | fromYaml) }}
{{- $_ = set $cfg "teacher" (mergeOverwrite (include "mkd.teacherConfig" . | fromYaml) (default dict $cfg.teacher)) }}
{{- toYaml $cfg }}
{{- end }}

{{/* The teacher settings shared by the pipeline config and the Serve args (mkd.config.TeacherConfig). */}}
{{- define "mkd.teacherConfig" -}}
backend: {{ .Values.teacher.backend }}
base_url: {{ .Values.teacher.endpoint | quote }}
model: {{ .Values.teacher.model | quote }}
{{- if .Values.teacher.apiKeySecret.name }}
api_key: {{ printf "${%s}" .Values.teacher.apiKeySecret.envVar | quote }}
{{- end }}
{{- end }}

{{/* Environment of every MKD container: store, region, teacher key from its Secret. */}}
{{- define "mkd.env" -}}
- name: MKD_CONFIG
  value: /config/pipeline.yaml
- name: MKD_STORE_URI
  value: {{ include "mkd.storeUri" . | quote }}
- name: AWS_REGION
  value: {{ .Values.store.region | quote }}
{{- if .Values.store.endpointUrl }}
- name: AWS_ENDPOINT_URL_S3
  value: {{ .Values.store.endpointUrl | quote }}
{{- end }}
{{- with .Values.teacher.apiKeySecret }}
{{- if .name }}
- name: {{ .envVar }}
  valueFrom:
    secretKeyRef:
      name: {{ .name }}
      key: {{ .key }}
{{- end }}
{{- end }}
- name: HF_HOME
  value: /home/ray/.cache/huggingface
{{- with .Values.ray.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Volumes of every Ray pod: the config, and writable emptyDirs under a read-only root. */}}
{{- define "mkd.volumes" -}}
- name: config
  configMap:
    name: {{ include "mkd.configMapName" . }}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.volumes.tmpSizeLimit }}
- name: cache
  emptyDir:
    sizeLimit: {{ .Values.volumes.cacheSizeLimit }}
- name: dshm
  emptyDir:
    medium: Memory
    sizeLimit: {{ .Values.volumes.shmSizeLimit }}
{{- end }}

{{- define "mkd.volumeMounts" -}}
- name: config
  mountPath: /config
  readOnly: true
- name: tmp
  mountPath: /tmp
- name: cache
  mountPath: /home/ray/.cache
- name: dshm
  mountPath: /dev/shm
{{- end }}

{{/*
A Ray pod template. Call with (dict "root" $ "component" "head|cpu-worker|gpu-worker"
"group" <values of the group> "gpus" <int> "cluster" "serve|<stage>" "autoscaler" <bool>).
*/}}
{{- define "mkd.rayPodTemplate" -}}
{{- $root := .root }}
{{- $gpu := gt (int .gpus) 0 -}}
metadata:
  labels:
    {{- include "mkd.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
    mkd.io/cluster: {{ .cluster }}
spec:
  serviceAccountName: {{ include "mkd.serviceAccountName" $root }}
  # The token is only needed by the autoscaler sidecar on the head (IRSA and Pod Identity mount their own).
  automountServiceAccountToken: {{ and (eq .component "head") .autoscaler }}
  securityContext:
    {{- toYaml $root.Values.podSecurityContext | nindent 4 }}
  {{- with $root.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .group.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .group.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .group.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: {{ ternary "ray-head" "ray-worker" (eq .component "head") }}
      {{- $gpuImage := ternary (include "mkd.gpuImage" $root) (include "mkd.gpuTrainImage" $root) (has .cluster (list "serve" "label")) }}
      image: {{ ternary $gpuImage (include "mkd.image" $root) $gpu }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      {{- if eq .component "head" }}
      ports:
        - {containerPort: 6379, name: gcs-server}
        - {containerPort: 8265, name: dashboard}
        - {containerPort: 10001, name: client}
        - {containerPort: 8000, name: serve}
        - {containerPort: 8080, name: metrics}
      {{- else }}
      ports:
        - {containerPort: 8080, name: metrics}
      {{- end }}
      {{- if and (eq .cluster "serve") (eq .component "head") $root.Values.serving.probes.enabled }}
      {{- include "mkd.serveProbes" $root.Values.serving.probes | nindent 6 }}
      {{- end }}
      env:
        {{- include "mkd.env" $root | nindent 8 }}
        {{- if and (eq .cluster "serve") $root.Values.serving.auth.tokenSecret }}
        - name: MKD_SERVE_TOKEN
          valueFrom:
            secretKeyRef:
              name: {{ $root.Values.serving.auth.tokenSecret }}
              key: {{ $root.Values.serving.auth.tokenKey }}
        {{- end }}
      resources:
        requests:
          {{- toYaml .group.resources.requests | nindent 10 }}
          {{- if $gpu }}
          nvidia.com/gpu: {{ .gpus }}
          {{- end }}
        limits:
          {{- toYaml .group.resources.limits | nindent 10 }}
          {{- if $gpu }}
          nvidia.com/gpu: {{ .gpus }}
          {{- end }}
      securityContext:
        {{- toYaml $root.Values.securityContext | nindent 8 }}
      volumeMounts:
        {{- include "mkd.volumeMounts" $root | nindent 8 }}
  volumes:
    {{- include "mkd.volumes" $root | nindent 4 }}
{{- end }}

{{/* rayStartParams as YAML; values must be strings (the CRD's map[string]string). */}}
{{- define "mkd.rayStartParams" -}}
{{- $out := dict }}
{{- range $k, $v := . }}
{{- $_ := set $out $k (toString $v) }}
{{- end }}
{{- toYaml $out }}
{{- end }}

{{/* Autoscaler options shared by the RayService and the RayJobs. */}}
{{- define "mkd.autoscaling" -}}
enableInTreeAutoscaling: {{ .Values.ray.autoscaling.enabled }}
{{- if .Values.ray.autoscaling.enabled }}
autoscalerOptions:
  upscalingMode: Default
  idleTimeoutSeconds: {{ .Values.ray.autoscaling.idleTimeoutSeconds }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  resources:
    {{- toYaml .Values.ray.autoscaling.resources | nindent 4 }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
{{- end }}
{{- end }}

{{/* Probes of the serving head on the Serve port: liveness /healthz (the Router answers),
readiness /readyz (student loaded, teacher reachable), startup /healthz (the first deploy). */}}
{{- define "mkd.serveProbes" -}}
startupProbe:
  httpGet: {path: /healthz, port: serve}
  periodSeconds: {{ .startup.periodSeconds }}
  failureThreshold: {{ .startup.failureThreshold }}
livenessProbe:
  httpGet: {path: /healthz, port: serve}
  periodSeconds: {{ .liveness.periodSeconds }}
  timeoutSeconds: {{ .liveness.timeoutSeconds }}
  failureThreshold: {{ .liveness.failureThreshold }}
readinessProbe:
  httpGet: {path: /readyz, port: serve}
  periodSeconds: {{ .readiness.periodSeconds }}
  timeoutSeconds: {{ .readiness.timeoutSeconds }}
  failureThreshold: {{ .readiness.failureThreshold }}
{{- end }}

{{/*
"true" while a Prometheus monitor is enabled: the dashboard and alerts read what it scrapes.
*/}}
{{- define "mkd.monitoringOn" -}}
{{- if or .Values.monitoring.podMonitor.enabled .Values.monitoring.serviceMonitor.enabled }}true{{ end }}
{{- end }}
