{{/* The name prefix of every object: the release name, with "-switchyard" unless it has it. */}}
{{- define "switchyard.fullname" -}}
{{- if contains "switchyard" .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-switchyard" .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "switchyard.labels" -}}
app.kubernetes.io/name: switchyard
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "switchyard.operator.serviceAccount" -}}
{{- default (printf "%s-operator" (include "switchyard.fullname" .)) .Values.operator.serviceAccount.name -}}
{{- end -}}

{{- define "switchyard.proxy.serviceAccount" -}}
{{- default (printf "%s-proxy" (include "switchyard.fullname" .)) .Values.proxy.serviceAccount.name -}}
{{- end -}}

{{- define "switchyard.selectorLabels" -}}
app.kubernetes.io/name: switchyard
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "switchyard.image" -}}
{{- $root := index . 0 -}}
{{- $binary := index . 1 -}}
{{- $tag := default $root.Chart.AppVersion $root.Values.image.tag -}}
{{- printf "%s/%s/%s:%s" $root.Values.image.registry $root.Values.image.repository $binary $tag -}}
{{- end -}}

{{/* The Secret holding the config channel's certificate (tls.crt, tls.key) and CA (ca.crt). */}}
{{- define "switchyard.tlsSecret" -}}
{{- if eq .Values.tls.mode "secret" -}}
{{- required "tls.existingSecret is required when tls.mode is secret (a Secret with tls.crt, tls.key and ca.crt)" .Values.tls.existingSecret -}}
{{- else -}}
{{- printf "%s-channel-tls" (include "switchyard.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "switchyard.operator.service" -}}
{{- printf "%s-operator" (include "switchyard.fullname" .) -}}
{{- end -}}

{{/* Names the operator's certificate must carry. */}}
{{- define "switchyard.operator.dnsNames" -}}
{{- $service := include "switchyard.operator.service" . -}}
- {{ $service }}
- {{ $service }}.{{ .Release.Namespace }}
- {{ $service }}.{{ .Release.Namespace }}.svc
- {{ $service }}.{{ .Release.Namespace }}.svc.cluster.local
{{- end -}}

{{/* The restricted Pod Security Standard, for both Deployments. */}}
{{- define "switchyard.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "switchyard.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: [ALL]
{{- end -}}
