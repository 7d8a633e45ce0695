package webhook

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The example from the Standard Webhooks specification's reference
// implementations (libraries/javascript and python test suites).
func TestSpecVector(t *testing.T) {
	s, err := ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"test": 2432232314}`)
	got := s.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), body)
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	s, _ := ParseSecret(NewSecret())
	other, _ := ParseSecret(NewSecret())
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"type":"article.published"}`)
	signed := func() http.Header {
		h := http.Header{}
		s.SetHeaders(h, "msg_1", now, body)
		return h
	}
	rotated := signed()
	rotated.Set(HeaderSignature, other.Sign("msg_1", now, body)+" "+rotated.Get(HeaderSignature))
	for _, tc := range []struct {
		name string
		h    http.Header
		body []byte
		now  time.Time
		want error
	}{
		{"good", signed(), body, now, nil},
		{"rotated keys", rotated, body, now, nil},
		{"body changed", signed(), []byte(`{"type":"article.withdrawn"}`), now, ErrSignature},
		{"too old", signed(), body, now.Add(Tolerance + time.Second), ErrTimestamp},
		{"from the future", signed(), body, now.Add(-Tolerance - time.Second), ErrTimestamp},
		{"no headers", http.Header{}, body, now, ErrMissingHeaders},
	} {
		if err := s.Verify(tc.h, tc.body, tc.now); !errors.Is(err, tc.want) {
			t.Errorf("%s: Verify = %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := other.Verify(signed(), body, now); !errors.Is(err, ErrSignature) {
		t.Errorf("another key verified: %v", err)
	}
}

func TestParseSecret(t *testing.T) {
	for _, bad := range []string{"", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_!!!", "whsec_c2hvcnQ="} {
		if _, err := ParseSecret(bad); err == nil {
			t.Errorf("ParseSecret(%q) accepted", bad)
		}
	}
}

// FuzzVerify: whatever headers arrive, Verify never panics and accepts
// only the signature of the body as sent.
func FuzzVerify(f *testing.F) {
	s, _ := ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	f.Add("msg_1", "1800000000", "v1,abc v2,def", []byte("{}"))
	f.Add("", "-1", "v1,", []byte{})
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sig)
		if s.Verify(h, body, now) != nil {
			return
		}
		// Only a header holding the true MAC of these bytes may pass.
		unix, _ := strconv.ParseInt(ts, 10, 64)
		if !strings.Contains(sig, "v1,"+s.mac(id, unix, body)) {
			t.Fatalf("verified a forged signature %q", sig)
		}
	})
}
