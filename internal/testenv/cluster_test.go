package testenv

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// A node of either kind comes back on the ports it had, so a client URL
// taken before a restart still reaches it, and it rejoins its routes.
func TestClusterNodeRestartsOnItsPorts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(testing.TB, int) *Cluster
	}{
		{"in-process", NATSCluster},
		{"processes", NATSClusterProcesses},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.start(t, 3)
			url := c.URL()
			c.Kill(1)
			c.Start(1)
			if got := c.URL(); got != url {
				t.Fatalf("URL after restart %q, before %q", got, url)
			}
			WaitFor(t, "node 2 routed to both others", 30*time.Second, func() bool { return c.Routes(1) == 2 })
			c.WaitCurrent()
			nc, err := nats.Connect(url)
			if err != nil {
				t.Fatal(err)
			}
			nc.Close()
		})
	}
}
