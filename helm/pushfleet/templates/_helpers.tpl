{{- define "pushfleet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "pushfleet.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "pushfleet.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "pushfleet.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: pushfleet
{{- end -}}

{{- define "pushfleet.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pushfleet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of one component; call with (dict "root" $ "component" "worker"). */}}
{{- define "pushfleet.componentLabels" -}}
{{ include "pushfleet.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "pushfleet.componentSelector" -}}
{{ include "pushfleet.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "pushfleet.image" -}}
{{- $repo := .Values.image.repository -}}
{{- if .Values.image.registry }}{{ $repo = printf "%s/%s" .Values.image.registry $repo }}{{ end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repo .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "pushfleet.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "pushfleet.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "pushfleet.configSecretName" -}}
{{- default (printf "%s-config" (include "pushfleet.fullname" .)) .Values.config.existingSecret -}}
{{- end -}}

{{- define "pushfleet.configSecretKey" -}}
{{- if .Values.config.existingSecret }}{{ .Values.config.existingSecretKey }}{{ else }}pushfleet.yaml{{ end -}}
{{- end -}}

{{/* redis:// or rediss:// URL; the password comes from $(REDIS_PASSWORD), set from a Secret. */}}
{{- define "pushfleet.redisUrl" -}}
{{- $r := .Values.externalRedis -}}
{{- $scheme := ternary "rediss" "redis" $r.tls.enabled -}}
{{- $auth := "" -}}
{{- if $r.existingSecret }}{{ $auth = printf "%s:$(REDIS_PASSWORD)@" $r.username }}{{ end -}}
{{- printf "%s://%s%s:%v/%v" $scheme $auth $r.host $r.port $r.db -}}
{{- end -}}

{{- define "pushfleet.autoscaled" -}}
{{- if .autoscaling.enabled }}true{{ end -}}
{{- end -}}

{{- define "pushfleet.sentinelAddresses" -}}
{{- $out := list -}}
{{- range .sentinel.hosts }}{{ $out = append $out (printf "%s:%v" .host .port) }}{{ end -}}
{{- join ", " $out -}}
{{- end -}}
