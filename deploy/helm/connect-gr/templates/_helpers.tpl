{{/* Name of the release's objects: the release name, with "-connect-gr" unless it says so. */}}
{{- define "connect-gr.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "connect-gr.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "connect-gr.labels" -}}
{{ include "connect-gr.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "connect-gr.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "connect-gr.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "connect-gr.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
The rules of the ClusterRole (scope Cluster) or the Role (scope Namespace): exactly what the
controller calls (deploy/kustomize/rbac.yaml explains each; tests/it/helm.rs keeps them equal).
*/}}
{{- define "connect-gr.rules" -}}
- apiGroups: ["connectgr.io"]
  resources: [instancereplicas, trafficdistributiongroups, agentmemberships, trafficdistributions, callerdenylists, failoverdrills]
  verbs: [get, list, watch, patch]
- apiGroups: ["connectgr.io"]
  resources: [instancereplicas/status, trafficdistributiongroups/status, agentmemberships/status, trafficdistributions/status, callerdenylists/status, failoverdrills/status]
  verbs: [patch]
- apiGroups: ["events.k8s.io"]
  resources: [events]
  verbs: [create, patch]
- apiGroups: ["coordination.k8s.io"]
  resources: [leases]
  verbs: [get, create, update]
{{- end -}}
