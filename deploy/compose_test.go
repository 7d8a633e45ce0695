package deploy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/pressline/pressline/internal/app"
)

func loadCompose(t *testing.T, env ...string) (*types.Project, error) {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root), cli.WithName("pressline"), cli.WithEnv(env), cli.WithResolvedPaths(true))
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

// TestCompose loads docker-compose.yml with the Compose specification's
// own loader, as `docker compose` would, and checks the layout the
// operations issue asks for.
func TestCompose(t *testing.T) {
	p, err := loadCompose(t, composeSecrets...)
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	for _, name := range []string{"nats-1", "nats-2", "nats-3", "minio", "minio-init", "nats-exporter", "prometheus", "grafana",
		"ingest", "clean", "imageproc", "publish", "notify"} {
		if _, err := p.GetService(name); err != nil {
			t.Errorf("no service %s", name)
		}
	}
	for _, name := range []string{"imageproc", "publish"} {
		s, _ := p.GetService(name)
		if s.Deploy == nil || s.Deploy.Replicas == nil || *s.Deploy.Replicas != 2 {
			t.Errorf("%s replicas: %+v", name, s.Deploy)
		}
	}
	for _, name := range []string{"ingest", "clean", "imageproc", "publish", "notify"} {
		s, _ := p.GetService(name)
		if s.HealthCheck == nil || !slices.Contains(s.HealthCheck.Test, "probe") {
			t.Errorf("%s has no health check through pressline probe", name)
		}
		env := func(k string) string {
			if v := s.Environment[k]; v != nil {
				return *v
			}
			return ""
		}
		if env("PRESSLINE_REPLICAS") != "3" || strings.Count(env("PRESSLINE_NATS_URL"), "nats://") != 3 {
			t.Errorf("%s: replicas %q, NATS %q: want three replicas across the three nodes", name, env("PRESSLINE_REPLICAS"), env("PRESSLINE_NATS_URL"))
		}
		if env("PRESSLINE_SERVICE_NAME") != "pressline-"+name {
			t.Errorf("%s: service name %q (the Prometheus job and trace name)", name, env("PRESSLINE_SERVICE_NAME"))
		}
		if want := []string{"run", name}; !slices.Equal(s.Command, want) {
			t.Errorf("%s: command %v, want %v", name, s.Command, want)
		}
	}
	// Every file the stack mounts is in the repository.
	mounts := map[string][]string{}
	for _, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("%s mounts %s, which does not exist", s.Name, v.Source)
			}
			mounts[s.Name] = append(mounts[s.Name], v.Target)
		}
	}
	for service, targets := range map[string][]string{
		"prometheus": {"/etc/prometheus/prometheus.yml", "/etc/prometheus/rules.yml"},
		"grafana":    {"/etc/grafana/provisioning", "/var/lib/grafana/dashboards"},
		"nats-1":     {"/etc/nats/cluster.conf", "/etc/nats/auth.conf"},
		"minio-init": {"/etc/minio/pressline-app.json"},
	} {
		for _, target := range targets {
			if !slices.Contains(mounts[service], target) {
				t.Errorf("%s does not mount %s", service, target)
			}
		}
	}
}

// composeSecrets is every secret docker-compose.yml asks for
// (deploy/env.example lists them for operators).
var composeSecrets = []string{"MINIO_ROOT_PASSWORD=a-long-test-password", "PRESSLINE_NEWSROOMS=quocoai:tokentokentokentoken:front",
	"PRESSLINE_S3_SECRET_KEY=s3-app-secret", "GRAFANA_ADMIN_PASSWORD=grafana-secret",
	"PRESSLINE_NATS_INGEST_PASSWORD=n1", "PRESSLINE_NATS_CLEAN_PASSWORD=n2", "PRESSLINE_NATS_IMAGEPROC_PASSWORD=n3",
	"PRESSLINE_NATS_PUBLISH_PASSWORD=n4", "PRESSLINE_NATS_NOTIFY_PASSWORD=n5", "PRESSLINE_NATS_OPERATOR_PASSWORD=n6"}

// TestComposeExposesNoInfrastructure: what the stack publishes on the
// host is the ingest API and the S3 API (for public reads; everything
// else there needs a key), and the dashboards on the host's loopback
// only; NATS has no host port and every service connects as its own
// user; no service uses MinIO's root user; Grafana has no anonymous
// access. env.example names every secret the file asks for.
func TestComposeExposesNoInfrastructure(t *testing.T) {
	p, err := loadCompose(t, composeSecrets...)
	if err != nil {
		t.Fatal(err)
	}
	public := map[string]bool{"ingest:8080": true, "minio:9000": true}
	loopbackOnly := map[string]bool{"prometheus:9090": true, "grafana:3000": true}
	for _, s := range p.Services {
		for _, port := range s.Ports {
			key := fmt.Sprintf("%s:%d", s.Name, port.Target)
			switch {
			case public[key]:
			case loopbackOnly[key] && port.HostIP == "127.0.0.1":
			default:
				t.Errorf("%s is published on the host (%s:%s)", key, port.HostIP, port.Published)
			}
		}
		env := func(k string) string {
			if v := s.Environment[k]; v != nil {
				return *v
			}
			return ""
		}
		if slices.Contains(app.Services, s.Name) {
			if env("PRESSLINE_NATS_USER") != s.Name || env("PRESSLINE_NATS_PASSWORD") == "" {
				t.Errorf("%s connects to NATS as %q, want its own user with a password", s.Name, env("PRESSLINE_NATS_USER"))
			}
			if env("PRESSLINE_S3_ACCESS_KEY") == env("MINIO_ROOT_USER") || env("PRESSLINE_S3_ACCESS_KEY") == "pressline" {
				t.Errorf("%s uses MinIO's root user", s.Name)
			}
		}
		if strings.HasPrefix(s.Name, "nats-") && s.Name != "nats-exporter" {
			for _, svc := range append(slices.Clone(app.Services), "operator") {
				if env(app.PasswordEnv(svc)) == "" {
					t.Errorf("%s lacks %s, which auth.conf reads", s.Name, app.PasswordEnv(svc))
				}
			}
		}
		if s.Name == "grafana" && env("GF_AUTH_ANONYMOUS_ENABLED") != "false" {
			t.Errorf("grafana allows anonymous access")
		}
	}
	example, err := os.ReadFile("env.example")
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range composeSecrets {
		if name, _, _ := strings.Cut(kv, "="); !strings.Contains(string(example), "\n"+name+"=") {
			t.Errorf("env.example does not name %s", name)
		}
	}
}

// TestNATSAuthorization: deploy/nats/auth.conf is what `pressline
// nats-auth` makes from the code (internal/app/natsperm.go, which a test
// holds to what each service does), and the cluster's configuration,
// with it included, loads in nats-server with a user for each service.
func TestNATSAuthorization(t *testing.T) {
	want, err := app.NATSAuthConfig()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("nats/auth.conf")
	if err != nil || string(got) != want {
		t.Fatalf("nats/auth.conf is not what the code makes (%v): run go run ./cmd/pressline nats-auth > deploy/nats/auth.conf", err)
	}
	t.Setenv("SERVER_NAME", "nats-1")
	for _, u := range append(slices.Clone(app.Services), "operator") {
		t.Setenv(app.PasswordEnv(u), "secret-"+u)
	}
	opts, err := server.ProcessConfigFile("nats/cluster.conf")
	if err != nil {
		t.Fatalf("nats/cluster.conf: %v", err)
	}
	users := map[string]*server.User{}
	for _, u := range opts.Users {
		users[u.Username] = u
	}
	for _, svc := range app.Services {
		u := users[svc]
		if u == nil || u.Password != "secret-"+svc || u.Permissions == nil || u.Permissions.Publish == nil || len(u.Permissions.Publish.Allow) == 0 {
			t.Errorf("user %s: %+v", svc, u)
		}
	}
	if users["operator"] == nil {
		t.Error("no operator user")
	}
}

// TestComposeNamesMissingSecrets: without the required settings the file
// refuses to load, and says which.
func TestComposeNamesMissingSecrets(t *testing.T) {
	_, err := loadCompose(t)
	if err == nil || !strings.Contains(err.Error(), "MINIO_ROOT_PASSWORD") {
		t.Errorf("load without MINIO_ROOT_PASSWORD: %v", err)
	}
}

// TestPrometheusConfig checks the scrape configuration with promtool; the
// job names are the ones the dashboards and alerts select.
func TestPrometheusConfig(t *testing.T) {
	out, err := promtool(t, "check", "config", "prometheus.yml")
	if err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
	cfg, _ := os.ReadFile("prometheus/prometheus.yml")
	for _, job := range []string{"pressline-ingest", "pressline-clean", "pressline-imageproc", "pressline-publish"} {
		if !strings.Contains(string(cfg), "job_name: "+job+"\n") {
			t.Errorf("no scrape job %s", job)
		}
	}
}

// TestNATSRelease holds the deployment files to the NATS release the
// embedded server and every test run (go.mod), and that release to one
// carrying the fixes for the Jepsen findings on 2.12.1 (2.12.3 or later).
func TestNATSRelease(t *testing.T) {
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`github.com/nats-io/nats-server/v2 v(\d+)\.(\d+)\.(\d+)`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod names no nats-server")
	}
	var v [3]int
	for i := range v {
		v[i], _ = strconv.Atoi(string(m[i+1]))
	}
	if v[0] < 2 || (v[0] == 2 && (v[1] < 12 || (v[1] == 12 && v[2] < 3))) {
		t.Errorf("nats-server %d.%d.%d: want 2.12.3 or later", v[0], v[1], v[2])
	}
	release := fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2])
	for file, want := range map[string]string{
		"../docker-compose.yml":       "image: nats:" + release + "\n",
		"k8s/charts/nats-values.yaml": "tag: " + release + "-alpine\n",
	} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), want) {
			t.Errorf("%s does not pin NATS %s (%q)", file, release, strings.TrimSpace(want))
		}
	}
}
