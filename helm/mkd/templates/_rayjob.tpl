{{/*
A RayJob for one pipeline stage: `python -m mkd.stages <stage> -c /config/pipeline.yaml` on a Ray
cluster created for the job and deleted after it (shutdownAfterJobFinishes + TTL).
Call with (dict "root" $ "stage" "augment|label|dataset|train|evaluate|export|pipeline");
renders nothing unless jobs.<stage>.enabled.
*/}}
{{- define "mkd.rayJob" -}}
{{- if (index .root.Values.jobs .stage).enabled }}
{{- include "mkd.rayJobManifest" . }}
{{- end }}
{{- end }}

{{/*
The RayJob manifest itself. With "generateName" true it carries metadata.generateName instead of
a name, so that each `create` (the pipeline schedule) makes a new RayJob: KubeRay refuses names
over 47 characters, so the prefix keeps 41 plus the dash for the API server's 5 random ones.
*/}}
{{- define "mkd.rayJobManifest" -}}
{{- $root := .root }}
{{- $stage := .stage }}
{{- $job := index $root.Values.jobs $stage }}
{{- $jobs := $root.Values.jobs }}
{{- $suffix := $stage }}
{{- if $jobs.runId }}
{{- $suffix = printf "%s-%s" $stage $jobs.runId }}
{{- end -}}
apiVersion: ray.io/v1
kind: RayJob
metadata:
  {{- if .generateName }}
  generateName: {{ printf "%s-" (include "mkd.rayName" (dict "root" $root "suffix" $stage) | trunc 41 | trimSuffix "-") }}
  {{- else }}
  name: {{ include "mkd.rayName" (dict "root" $root "suffix" $suffix) }}
  {{- end }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "mkd.labels" $root | nindent 4 }}
    app.kubernetes.io/component: job
    mkd.io/stage: {{ $stage }}
spec:
  entrypoint: python -m mkd.stages {{ $stage }} -c /config/pipeline.yaml
  submissionMode: {{ $jobs.submissionMode }}
  shutdownAfterJobFinishes: {{ $jobs.shutdownAfterJobFinishes }}
  ttlSecondsAfterFinished: {{ $jobs.ttlSecondsAfterFinished }}
  backoffLimit: {{ $jobs.backoffLimit }}
  {{- if $job.activeDeadlineSeconds }}
  activeDeadlineSeconds: {{ $job.activeDeadlineSeconds }}
  {{- end }}
  {{- if eq $jobs.submissionMode "K8sJobMode" }}
  # The submitter only runs `ray job submit` against the head (the operator fills in the command).
  submitterPodTemplate:
    metadata:
      labels:
        {{- include "mkd.labels" $root | nindent 8 }}
        app.kubernetes.io/component: job-submitter
        mkd.io/stage: {{ $stage }}
    spec:
      restartPolicy: Never
      serviceAccountName: {{ include "mkd.serviceAccountName" $root }}
      automountServiceAccountToken: false
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.ray.head.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: ray-job-submitter
          image: {{ include "mkd.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          resources:
            {{- toYaml $jobs.submitterResources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 1Gi
  {{- end }}
  rayClusterSpec:
    rayVersion: {{ $root.Values.ray.version | quote }}
    # A job cluster has a fixed size: the stage asks for what it needs.
    enableInTreeAutoscaling: false
    headGroupSpec:
      rayStartParams:
        {{- include "mkd.rayStartParams" $root.Values.ray.head.rayStartParams | nindent 8 }}
      template:
        {{- include "mkd.rayPodTemplate" (dict "root" $root "component" "head" "group" $root.Values.ray.head "gpus" 0 "cluster" $stage "autoscaler" false) | nindent 8 }}
    {{- if or (gt (int $job.cpuWorkers) 0) (gt (int $job.gpuWorkers) 0) }}
    workerGroupSpecs:
      {{- if gt (int $job.cpuWorkers) 0 }}
      - groupName: cpu
        replicas: {{ $job.cpuWorkers }}
        minReplicas: {{ $job.cpuWorkers }}
        maxReplicas: {{ $job.cpuWorkers }}
        rayStartParams:
          {{- include "mkd.rayStartParams" $root.Values.ray.cpuWorkers.rayStartParams | nindent 10 }}
        template:
          {{- include "mkd.rayPodTemplate" (dict "root" $root "component" "cpu-worker" "group" $root.Values.ray.cpuWorkers "gpus" 0 "cluster" $stage "autoscaler" false) | nindent 10 }}
      {{- end }}
      {{- if gt (int $job.gpuWorkers) 0 }}
      - groupName: gpu
        replicas: {{ $job.gpuWorkers }}
        minReplicas: {{ $job.gpuWorkers }}
        maxReplicas: {{ $job.gpuWorkers }}
        rayStartParams:
          {{- include "mkd.rayStartParams" $root.Values.ray.gpuWorkers.rayStartParams | nindent 10 }}
        template:
          {{- include "mkd.rayPodTemplate" (dict "root" $root "component" "gpu-worker" "group" $root.Values.ray.gpuWorkers "gpus" $root.Values.ray.gpuWorkers.gpus "cluster" $stage "autoscaler" false) | nindent 10 }}
      {{- end }}
    {{- end }}
{{- end }}
