package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/pressline/pressline/internal/app"
	"github.com/pressline/pressline/internal/app/apptest"
	"github.com/pressline/pressline/internal/blob"
	"github.com/pressline/pressline/internal/testenv"
)

// TestDevCommand runs the README's two commands as a person would: it
// builds pressline, starts `pressline dev` on embedded NATS and S3, submits
// the sample with `pressline submit --wait`, reads the published page from
// the printed site, and stops the pipeline with SIGTERM.
func TestDevCommand(t *testing.T) {
	dir := t.TempDir()
	bin := testenv.Pressline(t)
	sample, err := filepath.Abs("../../../shared/samples/quoc-oai.txt")
	if err != nil {
		t.Fatal(err)
	}
	// Free ports are picked, closed and handed to the binary, so a test of
	// another package running at the same time can take one in between:
	// start again with fresh ports when that happens.
	var (
		env            []string
		api, site, ops string
		dev            *exec.Cmd
		stderr         *bytes.Buffer
		exited         chan error
	)
	var s3, natsAddr string
	for attempt := 1; ; attempt++ {
		api, site, ops, s3, natsAddr = testenv.FreeAddr(t), testenv.FreeAddr(t), testenv.FreeAddr(t), testenv.FreeAddr(t), testenv.FreeAddr(t)
		env = append(os.Environ(),
			"PRESSLINE_DATA_DIR="+filepath.Join(dir, "data"),
			"PRESSLINE_HTTP_ADDR="+api, "PRESSLINE_SITE_ADDR="+site, "PRESSLINE_OPS_ADDR="+ops,
			"PRESSLINE_SITE_URL=http://"+site, "PRESSLINE_S3_ENDPOINT="+s3,
			"PRESSLINE_NATS_URL=nats://"+natsAddr,
			"PRESSLINE_SERVER=http://"+api)
		var banner string
		var err error
		dev, stderr, exited, banner, err = startDev(t, bin, dir, env)
		if err == nil {
			if !strings.Contains(banner, "published site http://"+site+"/dev/") || !strings.Contains(banner, `newsroom "dev" token: dev_`) {
				t.Errorf("banner:\n%s", banner)
			}
			break
		}
		if attempt < 3 && strings.Contains(stderr.String(), "address already in use") {
			continue
		}
		t.Fatalf("%v\n%s", err, stderr.String())
	}

	submit := exec.Command(bin, "submit", "--wait", "--image", filepath.Join(mustAbs(t, "../imaging/testdata"), "iptc.jpg"), sample)
	submit.Env = env
	submit.Dir = dir // the token is found in ./data, where dev put it
	out, err := submit.CombinedOutput()
	if err != nil {
		t.Fatalf("submit: %v\n%s\n%s", err, out, stderr.String())
	}
	var pageURL string
	for _, l := range strings.Split(string(out), "\n") {
		if u, ok := strings.CutPrefix(l, "published: "); ok {
			pageURL = u
		}
	}
	if pageURL == "" || !strings.Contains(string(out), "publish   published") {
		t.Fatalf("submit output:\n%s", out)
	}
	// The site's home page is rewritten a moment after each publication.
	for _, u := range []string{pageURL, "http://" + site + "/dev/"} {
		var body string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if body = apptest.TryGet(u); strings.Contains(body, "Xây dựng tổ chức Đảng trong sạch, vững mạnh") {
				break
			}
		}
		if !strings.Contains(body, "Xây dựng tổ chức Đảng trong sạch, vững mạnh") {
			t.Errorf("%s lacks the title:\n%.300s", u, body)
		}
	}
	// The photo's renditions are served from the site.
	page := get(t, pageURL)
	img := regexp.MustCompile(`http://[^" ]+/media/[0-9a-f]{64}/640\.webp`).FindString(page)
	if img == "" {
		t.Fatalf("the page has no 640 px WebP rendition:\n%s", page)
	}
	if body := get(t, img); !strings.HasPrefix(body, "RIFF") {
		t.Errorf("%s is not a WebP image", img)
	}
	if !strings.Contains(get(t, "http://"+ops+"/metrics"), `pressline_stage_messages_total{outcome="ok",stage="publish"} 1`) {
		t.Error("metrics do not count the publication")
	}

	checkDevCredentials(t, bin, dir, env, natsAddr, s3)

	_ = dev.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("pressline dev did not stop cleanly: %v\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("pressline dev did not stop within 20s of SIGTERM")
	}
}

// startDev starts pressline dev and waits for its banner.
func startDev(t *testing.T, bin, dir string, env []string) (*exec.Cmd, *bytes.Buffer, chan error, string, error) {
	t.Helper()
	dev := exec.Command(bin, "dev")
	dev.Env = env
	dev.Dir = dir
	stdout, _ := dev.StdoutPipe()
	stderr := &bytes.Buffer{}
	dev.Stderr = stderr
	dev.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := dev.Start(); err != nil {
		return nil, stderr, nil, "", err
	}
	exited := make(chan error, 1)
	banner := make(chan string, 1)
	go func() {
		var b strings.Builder
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "try: pressline submit") {
				banner <- b.String()
			}
		}
		exited <- dev.Wait()
	}()
	select {
	case out := <-banner:
		return dev, stderr, exited, out, nil
	case err := <-exited:
		return nil, stderr, nil, "", fmt.Errorf("pressline dev exited: %v", err)
	case <-time.After(30 * time.Second):
		dev.Process.Kill()
		return nil, stderr, nil, "", fmt.Errorf("pressline dev did not start")
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b)
}

func TestMain(m *testing.M) { testenv.Main(m) }

// checkDevCredentials: the embedded servers take only the data folder's
// own random credentials (another local user reaches loopback too), kept
// where only the owner reads them, and the tools find them there.
func checkDevCredentials(t *testing.T, bin, dir string, env []string, natsAddr, s3 string) {
	t.Helper()
	if nc, err := nats.Connect("nats://"+natsAddr, nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Error("the embedded NATS took a connection without the token")
	}
	path := app.DevSecretsFile(filepath.Join(dir, "data"))
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v, mode %v; want 0600", path, err, info.Mode().Perm())
	}
	var sec app.DevSecrets
	if b, err := os.ReadFile(path); err != nil || json.Unmarshal(b, &sec) != nil || len(sec.NATSToken) < 32 || len(sec.S3SecretKey) < 32 {
		t.Fatalf("%s: %v %+v", path, err, sec)
	}
	nc, err := nats.Connect("nats://"+natsAddr, nats.Token(sec.NATSToken), nats.MaxReconnects(0))
	if err != nil {
		t.Errorf("the data folder's token: %v", err)
	} else {
		nc.Close()
	}
	for _, keys := range []struct{ access, secret string }{{"pressline-dev", "pressline-dev-secret"}, {sec.S3AccessKey, "wrong-" + sec.S3SecretKey}} {
		s, err := blob.New(context.Background(), blob.Config{Endpoint: s3, AccessKey: keys.access, SecretKey: keys.secret, Bucket: "pressline"})
		if err == nil && s.Ping(context.Background()) == nil {
			t.Errorf("the embedded S3 took the keys %s/%s", keys.access, keys.secret)
		}
	}
	list := exec.Command(bin, "dlq", "list")
	list.Env, list.Dir = env, dir
	if out, err := list.CombinedOutput(); err != nil {
		t.Errorf("pressline dlq list against dev: %v\n%s", err, out)
	}
}
