package main

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestS3StallingEndpointFailsPlanAndList points a store at an endpoint that
// accepts connections and never answers: plan, list and verify report the
// store unreachable within the configured response timeout, naming the
// store and the endpoint, and exit 4.
func TestS3StallingEndpointFailsPlanAndList(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	endpoint := "http://" + l.Addr().String()
	dir := writeConfig(t, map[string]string{"main.hcl": `store "fleet" {
  s3 {
    endpoint         = "` + endpoint + `"
    bucket           = "fleet"
    access_key       = "planb"
    secret_key       = "not-a-secret"
    response_timeout = "1s"
  }
}

persistence "files" {
  path = "` + t.TempDir() + `"
}
`})
	for _, args := range [][]string{{"list"}, {"plan"}, {"verify"}} {
		t.Run(args[0], func(t *testing.T) {
			start := time.Now()
			code, out, errs := planbRun(t, "", append([]string{"--chdir", dir}, args...)...)
			took := time.Since(start)
			if code != exitUnreadable { // a store problem, not damage
				t.Fatalf("exit %d, want %d\n%s%s", code, exitUnreadable, out, errs)
			}
			reason := endpoint + " sent no response within 1s of the request (response_timeout)"
			want := map[string]string{
				"list":   "store.fleet could not be reached (" + reason + "): its archives are not listed",
				"plan":   "store.fleet could not be reached (" + reason + "): nothing is planned there for persistence.files",
				"verify": "UNREADABLE store.fleet: not listed: " + reason,
			}[args[0]]
			if !strings.Contains(out+errs, want) {
				t.Errorf("output lacks %q:\n%s%s", want, out, errs)
			}
			if took > 4*time.Second {
				t.Errorf("took %s, want about the timeout (1s)", took)
			}
		})
	}
}
