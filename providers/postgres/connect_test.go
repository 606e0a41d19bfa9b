package postgres

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
)

// A refused connection is tried twice (sslmode prefer: with TLS, then
// without) and, for localhost, once per address: each distinct reason is
// said once.
func TestConnectRefusedSaysItOnce(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	for name, host := range map[string]string{"ip": "127.0.0.1", "name": "localhost"} {
		t.Run(name, func(t *testing.T) {
			c := ConnConfig{Host: host, Port: port, User: "planb", Password: "secret-pw", DBName: "postgres"}
			_, err := Connect(context.Background(), c)
			if err == nil {
				t.Fatal("connected to a closed port")
			}
			msg := err.Error()
			prefix := "connect to postgres://planb@" + host + ":" + strconv.Itoa(port) + "/postgres: "
			if !strings.HasPrefix(msg, prefix) {
				t.Fatalf("error %q does not start with %q", msg, prefix)
			}
			reasons := strings.Split(strings.TrimPrefix(msg, prefix), "; ")
			seen := map[string]bool{}
			for _, r := range reasons {
				if seen[r] {
					t.Errorf("error %q says %q twice", msg, r)
				}
				seen[r] = true
				if !strings.HasSuffix(r, ":"+strconv.Itoa(port)+": connection refused") {
					t.Errorf("reason %q, want <address>:%d: connection refused", r, port)
				}
			}
			if host == "127.0.0.1" && msg != prefix+"127.0.0.1:"+strconv.Itoa(port)+": connection refused" {
				t.Errorf("error %q", msg)
			}
			if strings.Contains(msg, "\n") || strings.Contains(msg, "dial") {
				t.Errorf("error %q repeats pgx's dial wording", msg)
			}
			if !IsConnectError(err) {
				t.Errorf("IsConnectError(%v) = false", err)
			}
		})
	}
}
