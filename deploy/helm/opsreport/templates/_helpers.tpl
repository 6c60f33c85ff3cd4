{{/*
Chart name, overridable; cut to 63 characters because Kubernetes label values allow no more.
*/}}
{{- define "opsreport.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full resource name. The release name is used as-is when it already contains the chart name,
so "helm install opsreport ." gives "opsreport" and not "opsreport-opsreport".
*/}}
{{- define "opsreport.fullname" -}}
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
Chart label value: name-version, with "+" (invalid in labels) replaced.
*/}}
{{- define "opsreport.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels: must never change across upgrades, since Deployment selectors are immutable.
*/}}
{{- define "opsreport.selectorLabels" -}}
app.kubernetes.io/name: {{ include "opsreport.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Common labels for every resource.
*/}}
{{- define "opsreport.labels" -}}
helm.sh/chart: {{ include "opsreport.chart" . }}
{{ include "opsreport.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Operator image reference: [registry/]repository:tag; the tag defaults to the chart's appVersion.
*/}}
{{- define "opsreport.image" -}}
{{- $repository := .Values.image.repository }}
{{- with .Values.image.registry }}
{{- $repository = printf "%s/%s" (trimSuffix "/" .) $repository }}
{{- end }}
{{- printf "%s:%s" $repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
The ServiceAccount the operator runs as.
*/}}
{{- define "opsreport.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "opsreport.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
"true" when several replicas run: kopf peering lets one be active and keeps the rest on standby.
*/}}
{{- define "opsreport.peeringEnabled" -}}
{{- if gt (int .Values.replicas) 1 }}true{{ end }}
{{- end }}

{{/*
Name of the kopf peering object (ClusterKopfPeering, or a KopfPeering per watched namespace).
*/}}
{{- define "opsreport.peeringName" -}}
{{- default (include "opsreport.fullname" .) .Values.peering.name | trunc 63 | trimSuffix "-" }}
{{- end }}
