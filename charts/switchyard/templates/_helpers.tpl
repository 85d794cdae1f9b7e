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
