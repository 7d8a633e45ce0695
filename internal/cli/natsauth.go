package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/pressline/pressline/internal/app"
)

// cmdNATSAuth prints the authorization block of the NATS servers: each
// service its own user with the least it needs, an operator, and a user
// for each downstream site given as USER:SITE:DURABLE.
func cmdNATSAuth(args []string, stdout io.Writer) error {
	var ds []app.Downstream
	for _, a := range args {
		parts := strings.Split(a, ":")
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
			return errors.New("usage: pressline nats-auth [USER:SITE:DURABLE ...]")
		}
		ds = append(ds, app.Downstream{User: parts[0], Site: parts[1], Durable: parts[2]})
	}
	conf, err := app.NATSAuthConfig(ds...)
	if err != nil {
		return err
	}
	_, err = fmt.Fprint(stdout, conf)
	return err
}
