package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/pressline/pressline/internal/testenv"
)

// rendered is what `helm template` made of a chart, by kind.
type rendered struct {
	statefulSets []*appsv1.StatefulSet
	jobs         []*batchv1.Job
	configMaps   []*corev1.ConfigMap
	secrets      []*corev1.Secret
}

// helmTemplate renders chart (from the tools `make tools` installs:
// Helm, and the official chart of the MinIO release the tests run) with
// values, as `helm install` would, and decodes the kinds checked here.
func helmTemplate(t *testing.T, chart, values string) rendered {
	t.Helper()
	cache, err := testenv.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	helm := filepath.Join(cache, "bin", "helm")
	dir := filepath.Join(cache, "charts", chart)
	for _, p := range []string{helm, dir} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%v: run `make tools`, which installs Helm and the charts", err)
		}
	}
	cmd := exec.Command(helm, "template", chart, dir, "--namespace", "pressline", "--values", values)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm template %s: %v\n%s", chart, err, stderr.Bytes())
	}
	var r rendered
	docs := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(out)))
	for {
		doc, err := docs.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var head struct{ Kind string }
		if err := yaml.Unmarshal(doc, &head); err != nil {
			t.Fatal(err)
		}
		var obj any
		switch head.Kind {
		case "StatefulSet":
			s := &appsv1.StatefulSet{}
			r.statefulSets, obj = append(r.statefulSets, s), s
		case "Job":
			j := &batchv1.Job{}
			r.jobs, obj = append(r.jobs, j), j
		case "ConfigMap":
			c := &corev1.ConfigMap{}
			r.configMaps, obj = append(r.configMaps, c), c
		case "Secret":
			s := &corev1.Secret{}
			r.secrets, obj = append(r.secrets, s), s
		default:
			continue
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			t.Errorf("%s: %v", head.Kind, err)
		}
	}
	return r
}

// TestMinIOChart renders the official MinIO chart with Pressline's
// values and checks what charts/README.md promises: a distributed
// MinIO; the services' own least-privilege user, with the same policy as
// docker-compose's, and no other (the chart's defaults add an
// administrator with a published password); public read of public/
// only; the root credentials from a Secret made out of band, never
// rendered.
func TestMinIOChart(t *testing.T) {
	r := helmTemplate(t, "minio", "k8s/charts/minio-values.yaml")
	if len(r.statefulSets) != 1 || r.statefulSets[0].Spec.Replicas == nil || *r.statefulSets[0].Spec.Replicas != 4 {
		t.Fatalf("want one StatefulSet of 4 MinIO nodes, got %d", len(r.statefulSets))
	}
	rootFrom := ""
	for _, e := range r.statefulSets[0].Spec.Template.Spec.Containers[0].Env {
		if e.Name == "MINIO_ROOT_PASSWORD" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			rootFrom = e.ValueFrom.SecretKeyRef.Name
		}
	}
	if rootFrom != "pressline-minio" {
		t.Errorf("the root password comes from %q, want the Secret pressline-minio", rootFrom)
	}
	for _, s := range r.secrets {
		t.Errorf("the chart renders a Secret %s: credentials come from Secrets made out of band", s.Name)
	}

	var scripts map[string]string
	for _, c := range r.configMaps {
		if _, ok := c.Data["add-user"]; ok {
			scripts = c.Data
		}
	}
	if scripts == nil {
		t.Fatal("no ConfigMap with the chart's set-up scripts")
	}
	users := scripts["add-user"]
	if !strings.Contains(users, "echo pressline-app >") || !strings.Contains(users, "/config/secrets/pressline-secrets/PRESSLINE_S3_SECRET_KEY") ||
		!strings.Contains(users, "createUser pressline-app") {
		t.Errorf("the services' user pressline-app, its secret from pressline-secrets, is not created:\n%s", users)
	}
	if n := strings.Count(users, "createUser "); n != 2 { // the function and one call
		t.Errorf("%d users are created, want only pressline-app:\n%s", n-1, users)
	}
	if strings.Contains(users, "console") {
		t.Errorf("the chart's default console user is still created:\n%s", users)
	}
	var policy, want any
	if err := json.Unmarshal([]byte(scripts["policy_0.json"]), &policy); err != nil {
		t.Fatalf("policy_0.json: %v\n%s", err, scripts["policy_0.json"])
	}
	raw, err := os.ReadFile("minio/pressline-app.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(policy, want) {
		t.Errorf("the chart's pressline-app policy differs from deploy/minio/pressline-app.json:\n%s", scripts["policy_0.json"])
	}
	if !strings.Contains(scripts["custom-command"], "runCommand anonymous set download myminio/pressline/public") {
		t.Errorf("public/ is not made readable by anyone:\n%s", scripts["custom-command"])
	}
	if buckets := scripts["initialize"]; !strings.Contains(buckets, `createBucket pressline "none"`) {
		t.Errorf("the bucket is not created private:\n%s", buckets)
	}

	// The set-up job can read the services' secret to create their user.
	mounted := false
	for _, j := range r.jobs {
		for _, v := range j.Spec.Template.Spec.Volumes {
			if v.Projected == nil {
				continue
			}
			for _, src := range v.Projected.Sources {
				mounted = mounted || (src.Secret != nil && src.Secret.Name == "pressline-secrets")
			}
		}
	}
	if !mounted {
		t.Error("the chart's set-up job does not mount pressline-secrets")
	}
}
