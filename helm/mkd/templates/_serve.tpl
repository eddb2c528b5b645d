{{/*
The Serve config (Ray ServeDeploySchema) of the RayService: the structure of configs/serve.yaml,
filled from values.serving.* (args validate as mkd.serve.config.AppArgs, the Router's user_config as
mkd.serve.config.RouterConfig). The Router's user_config carries the rollout settings, so a change of
serving.rollout.* reconfigures the running routers in place: no new cluster, no replica restart;
except a change across "the student takes traffic", which also flips args.student.shadow_only
and so (args are part of Serve's code version) replaces every replica once (docs/rollout.md).
*/}}

{{/* The Router's user_config (mkd.serve.config.RouterConfig): everything a rollout step changes. */}}
{{- define "mkd.routerUserConfig" -}}
{{- $r := .Values.serving.rollout -}}
mode: {{ $r.mode }}
student_weight: {{ $r.studentWeight | float64 }}
task_overrides:
  {{- if $r.taskOverrides }}
  {{- range $task, $o := $r.taskOverrides }}
  {{ $task }}:
    {{- if $o.mode }}
    mode: {{ $o.mode }}
    {{- end }}
    {{- if hasKey $o "studentWeight" }}
    student_weight: {{ $o.studentWeight | float64 }}
    {{- end }}
  {{- end }}
  {{- else }} {}
  {{- end }}
sticky_header: {{ $r.stickyHeader }}
mirror_fraction: {{ $r.mirrorFraction | float64 }}
student_timeout_s: {{ $r.studentTimeoutS | float64 }}
shadow_concurrency: {{ $r.shadowConcurrency }}
rollback:
  enabled: {{ $r.rollback.enabled }}
  window: {{ $r.rollback.window }}
  min_samples: {{ $r.rollback.minSamples }}
  min_agreement: {{ $r.rollback.minAgreement | float64 }}
  min_agreement_samples: {{ $r.rollback.minAgreementSamples }}
  max_fallback_rate: {{ $r.rollback.maxFallbackRate | float64 }}
  max_error_rate: {{ $r.rollback.maxErrorRate | float64 }}
  max_p95_s: {{ $r.rollback.maxP95S | float64 }}
  max_latency_ratio: {{ $r.rollback.maxLatencyRatio | float64 }}
rollback_clear_id: {{ $r.rollbackClearId | default "" | quote }}
{{- end }}

{{/*
"true" when the Router starts with user traffic for the student (split mode with a weight above 0,
globally or in a task override): mkd.serve.config.RouterConfig.student_takes_traffic, in Helm.
*/}}
{{- define "mkd.studentTakesTraffic" -}}
{{- $r := .Values.serving.rollout -}}
{{- $takes := and (eq $r.mode "split") (gt ($r.studentWeight | float64) 0.0) -}}
{{- range $task, $o := $r.taskOverrides }}
{{- $mode := default $r.mode $o.mode }}
{{- $w := $r.studentWeight }}
{{- if hasKey $o "studentWeight" }}{{ $w = $o.studentWeight }}{{ end }}
{{- if and (eq $mode "split") (gt ($w | float64) 0.0) }}{{ $takes = true }}{{ end }}
{{- end }}
{{- $takes -}}
{{- end }}

{{/*
The builder's args (mkd.serve.config.AppArgs). The store comes from mkd.storeConfig, as the RayJobs'
does. student.shadow_only lets the Student load a version whose gates did not pass only while it
takes no user traffic; student.allow_unpromoted (serving.student.allowUnpromoted) forces it.
*/}}
{{- define "mkd.serveArgs" -}}
{{- $s := .Values.serving -}}
{{- $student := dict
  "backend" $s.student.backend
  "dtype" $s.student.dtype
  "max_batch_size" $s.student.maxBatchSize
  "max_queued_requests" $s.student.maxQueuedRequests
  "batch_wait_timeout_s" ($s.student.batchWaitTimeoutS | float64)
  "num_replicas" $s.student.replicas
  "ray_actor_options" $s.student.rayActorOptions
  "allow_unpromoted" $s.student.allowUnpromoted
  "shadow_only" (ne (include "mkd.studentTakesTraffic" .) "true")
}}
{{- with $s.student.version }}{{ $_ := set $student "version" . }}{{ end }}
{{- with $s.student.modelUri }}{{ $_ := set $student "model_uri" . }}{{ end }}
{{- $teacher := include "mkd.teacherConfig" . | fromYaml }}
{{- $_ := set $teacher "num_replicas" $s.teacherDeployment.replicas }}
{{- $_ = set $teacher "ray_actor_options" $s.teacherDeployment.rayActorOptions }}
{{- $_ = set $teacher "timeout_s" ($s.teacherDeployment.timeoutS | float64) }}
{{- $args := dict "pack" $s.pack "student" $student "teacher" $teacher
  "store" (include "mkd.storeConfig" . | fromYaml)
  "router" (dict "num_replicas" $s.router.replicas "ray_actor_options" $s.router.rayActorOptions)
  "auth" (dict "token_env" "MKD_SERVE_TOKEN")
  "capture" (dict "enabled" $s.capture.enabled "sample_rate" ($s.capture.sampleRate | float64)
    "retention_days" $s.capture.retentionDays) }}
{{- with $s.tasks }}{{ $_ := set $args "tasks" . }}{{ end }}
{{- toYaml (mergeOverwrite $args (deepCopy $s.extraArgs)) }}
{{- end }}

{{- define "mkd.serveConfig" -}}
{{- $s := .Values.serving -}}
proxy_location: EveryNode
http_options:
  host: 0.0.0.0
  port: 8000
applications:
  - name: {{ $s.appName }}
    route_prefix: {{ $s.routePrefix }}
    import_path: {{ $s.importPath }}
    args:
      {{- include "mkd.serveArgs" . | nindent 6 }}
    deployments:
      - name: Router
        num_replicas: {{ $s.router.replicas }}
        user_config:
          {{- include "mkd.routerUserConfig" . | nindent 10 }}
      - name: Student
        num_replicas: {{ $s.student.replicas }}
        user_config:
          fault: {{ $s.student.fault }}
      - name: Teacher
        num_replicas: {{ $s.teacherDeployment.replicas }}
{{- end }}
