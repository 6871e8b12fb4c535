{{/*
Chart name, truncated to 63 characters (the DNS label limit).
*/}}
{{- define "wsproxy.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: the release name, plus the chart name unless the release name
already contains it. Truncated to 63 characters.
*/}}
{{- define "wsproxy.fullname" -}}
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

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "wsproxy.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Namespace of the release objects.
*/}}
{{- define "wsproxy.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "wsproxy.labels" -}}
helm.sh/chart: {{ include "wsproxy.chart" . }}
{{ include "wsproxy.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: wsproxy
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels: stable across upgrades, so they never include the version.
*/}}
{{- define "wsproxy.selectorLabels" -}}
app.kubernetes.io/name: {{ include "wsproxy.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Name of the ServiceAccount.
*/}}
{{- define "wsproxy.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "wsproxy.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Name of the rules ConfigMap.
*/}}
{{- define "wsproxy.rulesConfigMapName" -}}
{{- printf "%s-rules" (include "wsproxy.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The wsproxy image reference: repository:tag, or repository@digest.
*/}}
{{- define "wsproxy.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/*
The backend image reference (sidecar mode); defaults to the wsproxy image, which ships chat-backend.
*/}}
{{- define "wsproxy.backendImage" -}}
{{- if .Values.backend.image.repository }}
{{- printf "%s:%s" .Values.backend.image.repository (default "latest" .Values.backend.image.tag) }}
{{- else }}
{{- $tag := default .Chart.AppVersion (default .Values.image.tag .Values.backend.image.tag) }}
{{- if and .Values.image.digest (not .Values.backend.image.tag) }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The upstream URL: required in standalone mode, the pod's loopback in sidecar mode.
*/}}
{{- define "wsproxy.upstream" -}}
{{- if eq .Values.mode "standalone" }}
{{- required "proxy.upstream is required in standalone mode (for example ws://chat-backend.chat.svc:8081)" .Values.proxy.upstream }}
{{- else }}
{{- default (printf "ws://127.0.0.1:%d" (int .Values.backend.port)) .Values.proxy.upstream }}
{{- end }}
{{- end }}

{{/*
terminationGracePeriodSeconds: computed above the drain timeout, or validated when set.
The proxy closes sessions after the drain timeout, then exits: the kubelet must not kill it first.
*/}}
{{- define "wsproxy.terminationGracePeriodSeconds" -}}
{{- $drain := int .Values.proxy.drainTimeoutSeconds }}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds }}
{{- add $drain 15 }}
{{- else }}
{{- $grace := int .Values.terminationGracePeriodSeconds }}
{{- if le $grace $drain }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be above proxy.drainTimeoutSeconds (%d)" $grace $drain) }}
{{- end }}
{{- $grace }}
{{- end }}
{{- end }}

{{/*
Whether the Prometheus Operator objects render: the API group is served, or `force` is set.
Call with (dict "root" $ "cfg" .Values.serviceMonitor).
*/}}
{{- define "wsproxy.monitoringEnabled" -}}
{{- if and .cfg.enabled (or .cfg.force (.root.Capabilities.APIVersions.Has "monitoring.coreos.com/v1")) }}true{{ end }}
{{- end }}

{{/*
Whether the admin port binds only the pod's loopback (then it needs no token, and nothing outside
the pod can reach it). Call with the wsproxy values.
*/}}
{{- define "wsproxy.adminLoopback" -}}
{{- $a := toString .admin.bindAddress }}
{{- if or (hasPrefix "127." $a) (eq $a "::1") (eq $a "localhost") }}true{{ end }}
{{- end }}

{{/*
The --admin address: ADDRESS:PORT, with brackets around an IPv6 address. Call with the values.
*/}}
{{- define "wsproxy.adminAddress" -}}
{{- $a := toString .admin.bindAddress }}
{{- if contains ":" $a }}{{ printf "[%s]:%d" $a (int .proxy.adminPort) }}{{ else }}{{ printf "%s:%d" $a (int .proxy.adminPort) }}{{ end }}
{{- end }}

{{/*
Whether wsproxy gets an admin token: always, unless the admin port binds only loopback.
Call with the values.
*/}}
{{- define "wsproxy.adminTokenEnabled" -}}
{{- if not (include "wsproxy.adminLoopback" .) }}true{{ end }}
{{- end }}

{{/*
The Secret and key of the admin token: admin.existingSecret, or the one this chart generates.
Call with a context that has Values, Release and Chart (the chart's own, or a sidecar's $ctx).
*/}}
{{- define "wsproxy.adminTokenSecretName" -}}
{{- if .Values.admin.existingSecret }}
{{- .Values.admin.existingSecret }}
{{- else }}
{{- printf "%s-admin-token" (include "wsproxy.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- define "wsproxy.adminTokenKey" -}}
{{- if .Values.admin.existingSecret }}{{ .Values.admin.existingSecretKey }}{{ else }}token{{ end }}
{{- end }}

{{/*
Fails when something must reach the admin port from outside the pod but it binds only loopback.
Call with (dict "values" $v "what" "metrics.podMonitor.enabled").
*/}}
{{- define "wsproxy.requireReachableAdmin" -}}
{{- if include "wsproxy.adminLoopback" .values }}
{{- fail (printf "%s needs the admin port reachable from outside the pod, but admin.bindAddress is %s: set admin.bindAddress=0.0.0.0 (the chart then gives it a token)" .what (toString .values.admin.bindAddress)) }}
{{- end }}
{{- end }}

{{/*
Fails unless the cluster runs native sidecars: Kubernetes 1.29+, or 1.28 with the
SidecarContainers feature gate (sidecar.featureGate). Older kubelets ignore restartPolicy on an
init container and wait for it to exit, so the pod would never start.
Call with (dict "root" $ "values" $v).
*/}}
{{- define "wsproxy.checkNativeSidecar" -}}
{{- $kv := .root.Capabilities.KubeVersion.Version }}
{{- if semverCompare "<1.28.0-0" $kv }}
{{- fail (printf "native sidecars need Kubernetes 1.29 or later and this cluster is %s: set sidecar.native=false (wsproxy then runs as a second container)" $kv) }}
{{- else if and (semverCompare "<1.29.0-0" $kv) (not .values.sidecar.featureGate) }}
{{- fail (printf "Kubernetes %s runs native sidecars only with the SidecarContainers feature gate: set sidecar.native=false, or sidecar.featureGate=true if the gate is on" $kv) }}
{{- end }}
{{- end }}

{{/*
The labels that select the pods running wsproxy: this chart's own (deploy=true), or
sidecarPodLabels (another chart's pods). `what` names the object, for the error.
Call with (dict "root" $ "what" "metrics.podMonitor").
*/}}
{{- define "wsproxy.podSelectorLabels" -}}
{{- if .root.Values.deploy }}
{{- include "wsproxy.selectorLabels" .root }}
{{- else if .root.Values.sidecarPodLabels }}
{{- toYaml .root.Values.sidecarPodLabels }}
{{- else }}
{{- fail (printf "%s with deploy=false needs sidecarPodLabels: the labels of your pods that include wsproxy.sidecarContainer" .what) }}
{{- end }}
{{- end }}

{{/*
The prometheus.io/* pod annotations for annotation-based scraping, or nothing when
metrics.scrapeAnnotations.enabled is false. For this chart's pods and for other charts' pod
templates. Call with (dict "root" $ "values" .Values.wsproxy); values default to root.Values.
*/}}
{{- define "wsproxy.scrapeAnnotations" -}}
{{- $v := .values | default .root.Values }}
{{- if $v.metrics.scrapeAnnotations.enabled }}
{{- include "wsproxy.requireReachableAdmin" (dict "values" $v "what" "metrics.scrapeAnnotations.enabled") }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ $v.proxy.adminPort | quote }}
prometheus.io/path: /metrics
prometheus.io/scheme: http
{{- end }}
{{- end }}

{{/*
The wsproxy container, for this chart's Deployment and for other charts that add wsproxy as a
sidecar to their own pods. Call with a dict:
  root      the top-level context ($)                               (required)
  values    the wsproxy values (default: root.Values)
  upstream  the backend URL (default: from the values, see wsproxy.upstream)
  native    true to render `restartPolicy: Always` (a native sidecar in initContainers)
Pair it with wsproxy.sidecarVolumes in the pod's volumes. See the chart README.
*/}}
{{- define "wsproxy.sidecarContainer" -}}
{{- $v := .values | default .root.Values }}
{{- $ctx := dict "Values" $v "Release" .root.Release "Chart" (dict "Name" "wsproxy" "Version" .root.Chart.Version "AppVersion" .root.Chart.AppVersion) "Capabilities" .root.Capabilities }}
{{- $upstream := .upstream | default (include "wsproxy.upstream" $ctx) }}
{{- if .native }}
{{- include "wsproxy.checkNativeSidecar" (dict "root" .root "values" $v) }}
{{- end }}
{{- $token := include "wsproxy.adminTokenEnabled" $v }}
{{- if include "wsproxy.adminLoopback" $v }}
{{- range $probe := list $v.proxy.startupProbe $v.proxy.livenessProbe $v.proxy.readinessProbe }}
{{- if and $probe $probe.httpGet (has (toString $probe.httpGet.port) (list "admin" (toString $v.proxy.adminPort))) }}
{{- fail "admin.bindAddress is loopback, where the kubelet's probes cannot reach the admin port: set proxy.startupProbe, proxy.livenessProbe and proxy.readinessProbe to {} (or to probes that do not use the admin port)" }}
{{- end }}
{{- end }}
{{- end }}
{{- if and $v.proxy.upstreamCA.secretName (not (hasPrefix "wss://" $upstream)) }}
{{- fail "proxy.upstreamCA needs a wss:// upstream" }}
{{- end -}}
- name: wsproxy
  image: {{ include "wsproxy.image" $ctx | quote }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  {{- if .native }}
  restartPolicy: Always
  {{- end }}
  args:
    - --listen
    - {{ printf "0.0.0.0:%d" (int $v.proxy.port) | quote }}
    - --admin
    - {{ include "wsproxy.adminAddress" $v | quote }}
    - --upstream
    - {{ $upstream | quote }}
    - --mode
    - {{ $v.proxy.mode | quote }}
    - --log-format
    - {{ $v.proxy.logFormat | quote }}
    - --log-level
    - {{ $v.proxy.logLevel | quote }}
    - --drain-timeout
    - {{ $v.proxy.drainTimeoutSeconds | int | quote }}
    - --idle-timeout
    - {{ $v.proxy.idleTimeoutSeconds | int | quote }}
    - --handshake-timeout
    - {{ $v.proxy.handshakeTimeoutSeconds | int | quote }}
    - --max-message-bytes
    - {{ $v.proxy.maxMessageBytes | int64 | quote }}
    {{- if gt (int $v.proxy.threads) 0 }}
    - --threads
    - {{ $v.proxy.threads | int | quote }}
    {{- end }}
    {{- if gt (int $v.proxy.maxConnections) 0 }}
    - --max-connections
    - {{ $v.proxy.maxConnections | int | quote }}
    {{- end }}
    {{- if $v.rules.enabled }}
    - --rules
    - /etc/wsproxy/rules/rules.yaml
    {{- end }}
    {{- if $v.proxy.tls.enabled }}
    - --tls-cert
    - /etc/wsproxy/tls/tls.crt
    - --tls-key
    - /etc/wsproxy/tls/tls.key
    {{- end }}
    {{- if $v.proxy.upstreamCA.secretName }}
    - --upstream-ca
    - {{ printf "/etc/wsproxy/upstream-ca/%s" $v.proxy.upstreamCA.key | quote }}
    {{- end }}
    {{- if $token }}
    - --admin-token-file
    - {{ printf "/etc/wsproxy/admin-token/%s" (include "wsproxy.adminTokenKey" $ctx) | quote }}
    {{- end }}
    {{- if $v.proxy.tapPayloads }}
    - --tap-payloads
    {{- end }}
    {{- with $v.proxy.sharedState }}
    {{- if .url }}
    - --shared-state
    - {{ .url | quote }}
    - --shared-state-prefix
    - {{ .prefix | quote }}
    - --pod-id
    - $(WSPROXY_POD_NAME)
    {{- if .existingSecret }}
    - --shared-state-password-file
    - {{ printf "/etc/wsproxy/redis-password/%s" .existingSecretKey | quote }}
    {{- end }}
    {{- end }}
    {{- end }}
    {{- range $v.proxy.extraArgs }}
    - {{ . | quote }}
    {{- end }}
  {{- if or $v.proxy.env $v.proxy.sharedState.url }}
  env:
    {{- if $v.proxy.sharedState.url }}
    # The pod's name is its id in the shared state (--pod-id).
    - name: WSPROXY_POD_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    {{- end }}
    {{- with $v.proxy.env }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
  ports:
    - name: {{ ternary "https" "http" $v.proxy.tls.enabled }}
      containerPort: {{ $v.proxy.port }}
      protocol: TCP
    - name: admin
      containerPort: {{ $v.proxy.adminPort }}
      protocol: TCP
  {{- with $v.proxy.startupProbe }}
  startupProbe:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.proxy.livenessProbe }}
  livenessProbe:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.proxy.readinessProbe }}
  readinessProbe:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.proxy.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.proxy.securityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  volumeMounts:
    - name: wsproxy-tmp
      mountPath: /tmp
    {{- if $v.rules.enabled }}
    - name: wsproxy-rules
      mountPath: /etc/wsproxy/rules
      readOnly: true
    {{- end }}
    {{- if $v.proxy.tls.enabled }}
    - name: wsproxy-tls
      mountPath: /etc/wsproxy/tls
      readOnly: true
    {{- end }}
    {{- if $v.proxy.upstreamCA.secretName }}
    - name: wsproxy-upstream-ca
      mountPath: /etc/wsproxy/upstream-ca
      readOnly: true
    {{- end }}
    {{- if $token }}
    - name: wsproxy-admin-token
      mountPath: /etc/wsproxy/admin-token
      readOnly: true
    {{- end }}
    {{- if and $v.proxy.sharedState.url $v.proxy.sharedState.existingSecret }}
    - name: wsproxy-redis-password
      mountPath: /etc/wsproxy/redis-password
      readOnly: true
    {{- end }}
    {{- with $v.proxy.extraVolumeMounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}

{{/*
The volumes that wsproxy.sidecarContainer mounts. Same dict argument (root, values).
*/}}
{{- define "wsproxy.sidecarVolumes" -}}
{{- $v := .values | default .root.Values }}
{{- $ctx := dict "Values" $v "Release" .root.Release "Chart" (dict "Name" "wsproxy") -}}
- name: wsproxy-tmp
  emptyDir:
    sizeLimit: 64Mi
{{- if $v.rules.enabled }}
- name: wsproxy-rules
  configMap:
    name: {{ include "wsproxy.rulesConfigMapName" $ctx }}
{{- end }}
{{- if $v.proxy.tls.enabled }}
- name: wsproxy-tls
  secret:
    secretName: {{ required "proxy.tls.secretName is required when proxy.tls.enabled" $v.proxy.tls.secretName }}
{{- end }}
{{- if $v.proxy.upstreamCA.secretName }}
- name: wsproxy-upstream-ca
  secret:
    secretName: {{ $v.proxy.upstreamCA.secretName }}
{{- end }}
{{- if include "wsproxy.adminTokenEnabled" $v }}
- name: wsproxy-admin-token
  secret:
    secretName: {{ include "wsproxy.adminTokenSecretName" $ctx }}
{{- end }}
{{- if and $v.proxy.sharedState.url $v.proxy.sharedState.existingSecret }}
- name: wsproxy-redis-password
  secret:
    secretName: {{ $v.proxy.sharedState.existingSecret }}
{{- end }}
{{- end }}
