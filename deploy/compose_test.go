package deploy

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
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
	p, err := loadCompose(t, "MINIO_ROOT_PASSWORD=a-long-test-password", "PRESSLINE_NEWSROOMS=quocoai:tokentokentokentoken:front")
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	for _, name := range []string{"nats-1", "nats-2", "nats-3", "minio", "minio-init", "nats-exporter", "prometheus", "grafana",
		"ingest", "clean", "imageproc", "publish"} {
		if _, err := p.GetService(name); err != nil {
			t.Errorf("no service %s", name)
		}
	}
	imageproc, _ := p.GetService("imageproc")
	if imageproc.Deploy == nil || imageproc.Deploy.Replicas == nil || *imageproc.Deploy.Replicas != 2 {
		t.Errorf("imageproc replicas: %+v", imageproc.Deploy)
	}
	for _, name := range []string{"ingest", "clean", "imageproc", "publish"} {
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
		"nats-1":     {"/etc/nats/cluster.conf"},
	} {
		for _, target := range targets {
			if !slices.Contains(mounts[service], target) {
				t.Errorf("%s does not mount %s", service, target)
			}
		}
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
