package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// manifests decodes every document under k8s/ strictly into its
// Kubernetes API type: an unknown or misspelt field fails, as the API
// server's strict field validation would (its schemas are not reachable
// from CI).
func manifests(t *testing.T) (deployments []*appsv1.Deployment, pdbs []*policyv1.PodDisruptionBudget, services []*corev1.Service, policies []*networkingv1.NetworkPolicy) {
	t.Helper()
	files, _ := filepath.Glob("k8s/*.yaml")
	if len(files) == 0 {
		t.Fatal("no manifests in deploy/k8s")
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if len(bytes.TrimSpace(doc)) == 0 {
				continue
			}
			var head struct{ APIVersion, Kind string }
			if err := yaml.Unmarshal(doc, &head); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			var obj any
			switch head.APIVersion + " " + head.Kind {
			case "apps/v1 Deployment":
				d := &appsv1.Deployment{}
				deployments, obj = append(deployments, d), d
			case "policy/v1 PodDisruptionBudget":
				p := &policyv1.PodDisruptionBudget{}
				pdbs, obj = append(pdbs, p), p
			case "v1 Service":
				s := &corev1.Service{}
				services, obj = append(services, s), s
			case "v1 ConfigMap":
				obj = &corev1.ConfigMap{}
			case "v1 Secret":
				obj = &corev1.Secret{}
			case "v1 Namespace":
				obj = &corev1.Namespace{}
			case "networking.k8s.io/v1 NetworkPolicy":
				np := &networkingv1.NetworkPolicy{}
				policies, obj = append(policies, np), np
			default:
				t.Errorf("%s: %s %s is not a kind this test knows", file, head.APIVersion, head.Kind)
				continue
			}
			if err := yaml.UnmarshalStrict(doc, obj); err != nil {
				t.Errorf("%s: %s: %v", file, head.Kind, err)
			}
		}
	}
	return deployments, pdbs, services, policies
}

// TestKubernetesManifests checks what operators rely on: probes, resource
// requests, a non-root user, a disruption budget for every replicated
// stage, and one publish replica.
func TestKubernetesManifests(t *testing.T) {
	deployments, pdbs, services, policies := manifests(t)
	byName := map[string]*appsv1.Deployment{}
	for _, d := range deployments {
		byName[d.Name] = d
		c := d.Spec.Template.Spec.Containers
		if len(c) != 1 {
			t.Errorf("%s: %d containers", d.Name, len(c))
			continue
		}
		if c[0].ReadinessProbe == nil || c[0].LivenessProbe == nil || c[0].ReadinessProbe.HTTPGet == nil || c[0].ReadinessProbe.HTTPGet.Path != "/readyz" {
			t.Errorf("%s: probes %+v %+v", d.Name, c[0].ReadinessProbe, c[0].LivenessProbe)
		}
		if c[0].Resources.Requests.Cpu().IsZero() || c[0].Resources.Requests.Memory().IsZero() || c[0].Resources.Limits.Memory().IsZero() {
			t.Errorf("%s: resources %+v", d.Name, c[0].Resources)
		}
		if sc := d.Spec.Template.Spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Errorf("%s: may run as root", d.Name)
		}
		if got := strings.Join(c[0].Args, " "); got != "run "+d.Name {
			t.Errorf("%s: args %q", d.Name, got)
		}
		// Each service is its own NATS user, its password in a Secret no
		// other pod mounts.
		user, ownSecret := "", false
		for _, e := range c[0].Env {
			if e.Name == "PRESSLINE_NATS_USER" {
				user = e.Value
			}
		}
		for _, ef := range c[0].EnvFrom {
			ownSecret = ownSecret || (ef.SecretRef != nil && ef.SecretRef.Name == "pressline-nats-"+d.Name)
		}
		if user != d.Name || !ownSecret {
			t.Errorf("%s: NATS user %q, own password secret %v", d.Name, user, ownSecret)
		}
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("%s: selector does not match its pods: %v", d.Name, err)
		}
	}
	for _, name := range []string{"ingest", "clean", "imageproc", "publish", "notify"} {
		if byName[name] == nil {
			t.Errorf("no Deployment %s", name)
		}
	}
	if d := byName["imageproc"]; d != nil && (d.Spec.Replicas == nil || *d.Spec.Replicas < 2) {
		t.Errorf("imageproc replicas %v, want 2", d.Spec.Replicas)
	}
	if d := byName["publish"]; d != nil && (d.Spec.Replicas == nil || *d.Spec.Replicas < 2) {
		t.Errorf("publish replicas %v, want 2: it scales out like the other stages (docs/events.md)", d.Spec.Replicas)
	}
	covered := map[string]bool{}
	for _, p := range pdbs {
		for name, d := range byName {
			ps, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
			if err == nil && ps.Matches(labels.Set(d.Spec.Template.Labels)) {
				covered[name] = true
			}
		}
	}
	for name, d := range byName {
		if d.Spec.Replicas != nil && *d.Spec.Replicas > 1 && !covered[name] {
			t.Errorf("%s has %d replicas and no disruption budget", name, *d.Spec.Replicas)
		}
	}
	if len(services) == 0 {
		t.Error("no Service for the ingest API")
	}
	// Ingress is denied by default in the namespace: every pod is
	// reached only through a policy that names who may.
	denied := false
	for _, p := range policies {
		denied = denied || (len(p.Spec.PodSelector.MatchLabels) == 0 && len(p.Spec.PodSelector.MatchExpressions) == 0 &&
			len(p.Spec.Ingress) == 0 && slices.Contains(p.Spec.PolicyTypes, networkingv1.PolicyTypeIngress))
	}
	if !denied {
		t.Error("no default-deny ingress NetworkPolicy")
	}
	for _, f := range []string{"k8s/charts/nats-values.yaml", "k8s/charts/minio-values.yaml"} {
		data, err := os.ReadFile(f)
		var v map[string]any
		if err == nil {
			err = yaml.Unmarshal(data, &v)
		}
		if err != nil || len(v) == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}
