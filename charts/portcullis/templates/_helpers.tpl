{{- define "portcullis.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "portcullis.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "portcullis.labels" -}}
app.kubernetes.io/name: {{ include "portcullis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "portcullis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "portcullis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "portcullis.secretName" -}}
{{- default (printf "%s-secret" (include "portcullis.fullname" .)) .Values.secret.existingSecret -}}
{{- end -}}

{{/* The gateway container: the same in both modes. */}}
{{- define "portcullis.container" -}}
- name: portcullis
  image: "{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}"
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args: ["serve", "--config", "/etc/portcullis/config/portcullis.yaml"]
  ports:
    - name: s3
      containerPort: {{ .Values.ports.s3 }}
    - name: admin
      containerPort: {{ .Values.ports.admin }}
  livenessProbe:
    httpGet:
      path: /healthz
      port: admin
    periodSeconds: 10
  readinessProbe:
    httpGet:
      path: /readyz
      port: admin
    periodSeconds: 5
  resources:
    {{- toYaml .Values.resources | nindent 4 }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  volumeMounts:
    - name: config
      mountPath: /etc/portcullis/config
      readOnly: true
    - name: policies
      mountPath: /etc/portcullis/policies
      readOnly: true
    - name: secret
      mountPath: /etc/portcullis/secret
      readOnly: true
    - name: tmp
      mountPath: /tmp
{{- end -}}

{{/* The volumes the container mounts. */}}
{{- define "portcullis.volumes" -}}
- name: config
  configMap:
    name: {{ include "portcullis.fullname" . }}-config
- name: policies
  configMap:
    name: {{ include "portcullis.fullname" . }}-policies
    items:
      {{- range $name, $_ := .Values.policies.org }}
      - key: org.{{ $name }}.json
        path: org/{{ $name }}.json
      {{- end }}
      {{- range $name, $_ := .Values.policies.identity }}
      - key: identity.{{ $name }}.json
        path: identity/{{ $name }}.json
      {{- end }}
- name: secret
  secret:
    secretName: {{ include "portcullis.secretName" . }}
- name: tmp
  emptyDir:
    sizeLimit: 16Mi
{{- end -}}
