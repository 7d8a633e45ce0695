package app_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/pressline/pressline/internal/app/apptest"
	"github.com/pressline/pressline/internal/testenv"
	"github.com/pressline/pressline/pkg/client"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// newEnv is the servers most tests here need: a newsroom with two sites
// and two workers per stage.
func newEnv(t testing.TB) *apptest.Env { return apptest.New(t, []string{"front", "regional"}, 2) }

// submitAs sends body as the newsroom over HTTP with the given headers
// (name, value, …) and wants it accepted.
func submitAs(t testing.TB, e *apptest.Env, body []byte, contentType string, headers ...string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+e.Config.HTTPAddr+client.ArticlesPath, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+apptest.Token)
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var acc client.Accepted
	if resp.StatusCode != http.StatusAccepted {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("submit: %s %s", resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&acc); err != nil || acc.ID == "" || acc.Version < 1 || acc.StatusURL != client.ArticlePath(acc.ID) {
		t.Fatalf("202 body = %+v, %v", acc, err)
	}
	return acc.ID
}

// submitSampleWithPhotos sends the sample with two photos, as pressline
// submit --image does, and returns its id: iptc.jpg carries an embedded
// credit, photo.jpg none.
func submitSampleWithPhotos(t testing.TB, e *apptest.Env) string {
	t.Helper()
	sample, err := os.ReadFile("../../../shared/samples/quoc-oai.txt")
	if err != nil {
		t.Fatal(err)
	}
	ct, body, err := multipartBody(sample, "text/plain; charset=utf-8",
		[]string{"../imaging/testdata/iptc.jpg", "../imaging/testdata/photo.jpg"})
	if err != nil {
		t.Fatal(err)
	}
	return submitAs(t, e, body, ct)
}

// pressline runs the pressline command, as a user would, and returns what
// it printed; it must succeed.
func pressline(t testing.TB, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(testenv.Pressline(t), args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("pressline %v: %v\n%s", args, err, stderr)
	}
	return out
}

// multipartBody is an article with image files, as `pressline submit
// --image` sends it.
func multipartBody(article []byte, contentType string, paths []string) (string, []byte, error) {
	var files []client.File
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return "", nil, err
		}
		files = append(files, client.File{Name: filepath.Base(p), Data: data})
	}
	return client.Multipart(article, contentType, files)
}
