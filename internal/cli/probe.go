package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// cmdProbe is the container health check: the runtime image has no curl,
// and the binary is already there.
func cmdProbe(ctx context.Context, args []string) error {
	if len(args) != 1 {
		return errors.New("usage: pressline probe URL (e.g. http://127.0.0.1:9464/readyz)")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, args[0], nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s %s", args[0], resp.Status, body)
	}
	return nil
}
