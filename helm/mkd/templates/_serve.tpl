{{/*
The Serve config (Ray ServeDeploySchema) of the RayService: the structure of configs/serve.yaml,
filled from values.serving.* (args validate as mkd.serve.config.AppArgs, the Router's user_config as
mkd.serve.config.RouterConfig). The Router's user_config carries the rollout settings
(serving.rollout.*, RouterConfig's own snake_case names), so a change of them reconfigures the
running routers in place: no new cluster, no replica restart; except a change across "the student takes traffic", which also flips args.student.shadow_only
and so (args are part of Serve's code version) replaces every replica once (docs/rollout.md).
*/}}

{{/*
The Router's user_config (mkd.serve.config.RouterConfig): serving.rollout as it is, the model's own
names, so a field added to RouterConfig needs no template change (its schema is generated:
python -m mkd.serve.schema). Only `--set`'s decimal strings become numbers again ("0.25" -> 0.25);
rollback_clear_id stays a string whatever it looks like.
*/}}
{{- define "mkd.routerUserConfig" -}}
{{- toYaml (include "mkd.liveNumbers" .Values.serving.rollout | fromYaml) }}
{{- end }}

{{/* A copy of a values map with decimal strings (`--set x=0.25`) as numbers, maps walked. */}}
{{- define "mkd.liveNumbers" -}}
{{- $out := dict }}
{{- range $key, $value := . }}
{{- if kindIs "map" $value }}
{{- $_ := set $out $key (include "mkd.liveNumbers" $value | fromYaml) }}
{{- else if and (kindIs "string" $value) (ne $key "rollback_clear_id") (regexMatch "^[0-9]*\\.[0-9]+$" $value) }}
{{- $_ := set $out $key ($value | float64) }}
{{- else }}
{{- $_ := set $out $key $value }}
{{- end }}
{{- end }}
{{- toYaml $out }}
{{- end }}

{{/*
"true" when the Router starts with user traffic for the student (split mode with a weight above 0,
globally or in a task override): mkd.serve.config.RouterConfig.student_takes_traffic, in Helm.
*/}}
{{- define "mkd.studentTakesTraffic" -}}
{{- $r := .Values.serving.rollout -}}
{{- $takes := and (eq $r.mode "split") (gt ($r.student_weight | float64) 0.0) -}}
{{- range $task, $o := $r.task_overrides }}
{{- $mode := default $r.mode $o.mode }}
{{- $w := $r.student_weight }}
{{- if and (hasKey $o "student_weight") (not (kindIs "invalid" $o.student_weight)) }}{{ $w = $o.student_weight }}{{ end }}
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
{{- with $s.student.maxPendingAnswers }}{{ $_ := set $student "max_pending_answers" . }}{{ end }}
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
