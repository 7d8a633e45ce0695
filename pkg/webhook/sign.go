// Package webhook is for the receivers of Pressline's webhooks: it
// verifies a request per the Standard Webhooks specification (webhook-id,
// webhook-timestamp and webhook-signature headers; HMAC-SHA256 over
// "id.timestamp.body") and decodes its Body. Pressline signs with the same
// code, so a receiver can equally use any other Standard Webhooks
// verifier library.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks header names.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

const secretPrefix = "whsec_"

// Secret is a signing key.
type Secret []byte

// ParseSecret reads a secret as Standard Webhooks writes it:
// "whsec_" and the base64 of at least 24 random bytes.
func ParseSecret(s string) (Secret, error) {
	b64, ok := strings.CutPrefix(s, secretPrefix)
	if !ok {
		return nil, fmt.Errorf("webhook secret must start with %q (make one with `pressline webhook-secret`)", secretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("webhook secret is not base64 after %q: %w", secretPrefix, err)
	}
	if len(key) < 24 {
		return nil, fmt.Errorf("webhook secret has %d bytes of key, at least 24 are needed", len(key))
	}
	return key, nil
}

// Text is the secret in the form ParseSecret reads, for storing it.
func (s Secret) Text() string { return secretPrefix + base64.StdEncoding.EncodeToString(s) }

// NewSecret makes a random secret in its written form.
func NewSecret() string {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read never fails
	return secretPrefix + base64.StdEncoding.EncodeToString(key)
}

// Sign returns the value of the webhook-signature header.
func (s Secret) Sign(id string, ts time.Time, body []byte) string {
	return "v1," + s.mac(id, ts.Unix(), body)
}

func (s Secret) mac(id string, unix int64, body []byte) string {
	h := hmac.New(sha256.New, s)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write([]byte(strconv.FormatInt(unix, 10)))
	h.Write([]byte{'.'})
	h.Write(body)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// SetHeaders puts the three signing headers on a request.
func (s Secret) SetHeaders(h http.Header, id string, ts time.Time, body []byte) {
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, s.Sign(id, ts, body))
}

// Tolerance is how far a request's timestamp may be from the receiver's
// clock; older requests are refused as possible replays.
const Tolerance = 5 * time.Minute

// Verification errors.
var (
	ErrMissingHeaders = errors.New("webhook: missing webhook-id, webhook-timestamp or webhook-signature")
	ErrTimestamp      = errors.New("webhook: timestamp outside the tolerance")
	ErrSignature      = errors.New("webhook: no matching signature")
)

// Verify checks a received request's headers and body, as a receiver
// would.
func (s Secret) Verify(h http.Header, body []byte, now time.Time) error {
	id, tsv, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || tsv == "" || sigs == "" {
		return ErrMissingHeaders
	}
	unix, err := strconv.ParseInt(tsv, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrTimestamp, tsv)
	}
	if d := now.Sub(time.Unix(unix, 0)); d > Tolerance || d < -Tolerance {
		return ErrTimestamp
	}
	want := []byte(s.mac(id, unix, body))
	// Several space-separated signatures let a sender rotate keys.
	for _, sig := range strings.Fields(sigs) {
		if v, ok := strings.CutPrefix(sig, "v1,"); ok && hmac.Equal([]byte(v), want) {
			return nil
		}
	}
	return ErrSignature
}
