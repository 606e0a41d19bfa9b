package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Apply sends its start and its success or failure to healthchecks, a
// webhook and ntfy on a local server, with the summary; --no-notify sends
// nothing; the URLs' secret parts and the token are never printed.
func TestNotifyApplyEndToEnd(t *testing.T) {
	srv := newNotifyServer(t)
	e := newEstate(t, notifyHCL(srv.URL))
	e.env = append(e.env, "PLANB_VAR_notify_token=tok-Zq9-secret")
	var printed strings.Builder
	planFile := filepath.Join(t.TempDir(), "backup.plan")
	r := e.mustPlanb(t, 0, "plan", "--out", planFile, "--json", "--now", "2026-11-25T08:00:00Z", "--target", "application.legacy")
	printed.WriteString(r.stdout + r.stderr)
	if got := srv.take(); len(got) > 0 {
		t.Errorf("plan sent %q", paths(got))
	}

	r = e.mustPlanb(t, 0, "apply", "--json", "--log-level", "debug", planFile)
	printed.WriteString(r.stdout + r.stderr)
	got := srv.take()
	hc := byPath(got, "/ping/")
	if p := paths(hc); len(p) != 2 || p[0] != "/ping/hc-uuid-Zq9/start" || p[1] != "/ping/hc-uuid-Zq9" {
		t.Fatalf("healthchecks got %q, want the start and the success", p)
	}
	s := hc[1].summary(t)
	if s.Version != 1 || s.Command != "apply" || s.Event != "success" || s.Result != "ok" || *s.ExitCode != 0 ||
		len(s.Resources) != 1 || s.Resources[0].Address != "application.legacy" || s.Resources[0].Actions["backup"] != 1 ||
		s.Resources[0].Result != "ok" || s.Resources[0].Steps["ok"] == 0 || len(s.Failures) != 0 {
		t.Errorf("success summary: %s", hc[1].body)
	}
	if start := hc[0].summary(t); start.Event != "start" || start.ExitCode != nil || start.Result != "running" {
		t.Errorf("start summary: %s", hc[0].body)
	}
	hooks := byPath(got, "/hooks/")
	if len(hooks) != 2 || hooks[1].header.Get("Authorization") != "Bearer tok-Zq9-secret" || hooks[1].summary(t).Event != "success" {
		t.Errorf("webhook got %q: %v", paths(hooks), hooks)
	}
	ntfy := byPath(got, "/ntfy/")
	if len(ntfy) != 1 || ntfy[0].header.Get("Authorization") != "Bearer tok-Zq9-secret" || ntfy[0].header.Get("Title") == "" ||
		!strings.Contains(ntfy[0].body, "succeeded") || !strings.Contains(ntfy[0].body, "ok") {
		t.Errorf("ntfy got %q: %v", paths(ntfy), ntfy)
	}

	// --no-notify: nothing at all.
	r = e.mustPlanb(t, 0, "apply", "--auto-approve", "--no-notify", "--now", "2026-11-26T08:00:00Z", "--target", "application.legacy")
	printed.WriteString(r.stdout + r.stderr)
	if got := srv.take(); len(got) > 0 {
		t.Errorf("apply --no-notify sent %q", paths(got))
	}

	// A failure (a schema that does not exist): /fail with what failed.
	cfg := filepath.Join(e.dir, "estate.hcl")
	os.WriteFile(cfg, []byte(strings.ReplaceAll(string(mustRead(t, cfg)), "aip_measure", "no_such_schema")), 0o644)
	r = e.mustPlanb(t, 1, "apply", "--auto-approve", "--now", "2026-11-27T08:00:00Z", "--target", "measurement.health")
	printed.WriteString(r.stdout + r.stderr)
	got = srv.take()
	hc = byPath(got, "/ping/")
	if p := paths(hc); len(p) != 2 || p[1] != "/ping/hc-uuid-Zq9/fail" {
		t.Fatalf("healthchecks got %q, want the start and the failure", p)
	}
	s = hc[1].summary(t)
	if s.Event != "failure" || s.Result != "failed" || *s.ExitCode != 1 || len(s.Failures) == 0 ||
		!strings.Contains(s.Failures[0].Error, "no_such_schema") || s.Failures[0].Resource != "measurement.health" ||
		len(s.Resources) != 1 || s.Resources[0].Result != "failed" || !strings.Contains(s.Text, "no_such_schema") {
		t.Errorf("failure summary: %s", hc[1].body)
	}
	ntfy = byPath(got, "/ntfy/")
	if len(ntfy) != 1 || ntfy[0].header.Get("Priority") != "high" || !strings.Contains(ntfy[0].body, "failed on ") || !strings.Contains(ntfy[0].body, "(exit 1)") ||
		!strings.Contains(ntfy[0].header.Get("Title"), "planb apply failed") {
		t.Errorf("ntfy failure: %v", ntfy)
	}

	for what, text := range map[string]string{"output": printed.String(), "plan file": string(mustRead(t, planFile))} {
		for _, secret := range notifySecrets {
			if strings.Contains(text, secret) {
				t.Errorf("the %s shows %q", what, secret)
			}
		}
	}
}

// Notifiers that cannot be reached (a closed port) or never answer do not
// change the exit code and hold the apply up at most notifyBound; the
// warnings name them without their URLs' paths.
func TestNotifyFailuresNeverFailTheBackup(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) })
	e := newEstate(t, `
notify "down" {
  healthchecks { url = "`+closed+`/ping/hc-uuid-Zq9" }
}

notify "slow" {
  webhook { url = "`+hang.URL+`/hooks/chat-path-Zq9" }
  on = ["start", "success"]
}
`)
	start := time.Now()
	r := e.mustPlanb(t, 0, "apply", "--auto-approve", "--now", "2026-11-25T08:00:00Z", "--target", "application.legacy")
	took := time.Since(start)
	// The backup itself takes a few seconds; the notifications add at most
	// notifyBound.
	if took > notifyBound+20*time.Second {
		t.Errorf("apply took %s with notifiers that never answer", took)
	}
	for _, want := range []string{"notify=notify.down host=127.0.0.1 event=start", "connection refused", "notify=notify.slow", "not delivered before planb stopped waiting"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	for _, secret := range notifySecrets {
		if strings.Contains(r.stdout+r.stderr, secret) {
			t.Errorf("output shows %q:\n%s", secret, r.stderr)
		}
	}
	if got := zips(t, e.backups, "applications/legacy"); len(got) != 1 {
		t.Errorf("%d archives, want the backup made", len(got))
	}
}

// An interrupted apply (exit 130) sends a failure whose result is
// interrupted.
func TestNotifyInterruptedApply(t *testing.T) {
	srv := newNotifyServer(t)
	marker := filepath.Join(t.TempDir(), "before-started")
	dir := writeConfig(t, map[string]string{"main.hcl": fmt.Sprintf(`store "node" {
  local { path = %q }
}

persistence "h2" {
  path   = %q
  stores = [store.node]
  before {
    command = ["sh", "-c", "touch %s; sleep 60"]
  }
}
`, t.TempDir(), t.TempDir(), marker) + notifyHCL(srv.URL)})
	cmd := exec.Command(planbBin, "--chdir", dir, "apply", "--auto-approve")
	cmd.Env = append(os.Environ(), "PLANB_VAR_notify_token=tok-Zq9-secret")
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, err := os.Stat(marker); err != nil; _, err = os.Stat(marker) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the before command did not start\n%s%s", out.String(), errb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("interrupted apply: %v, want exit 130\n%s%s", err, out.String(), errb.String())
	}
	hc := byPath(srv.take(), "/ping/")
	if p := paths(hc); len(p) != 2 || p[0] != "/ping/hc-uuid-Zq9/start" || p[1] != "/ping/hc-uuid-Zq9/fail" {
		t.Fatalf("healthchecks got %q, want the start and the failure", p)
	}
	s := hc[1].summary(t)
	if s.Event != "failure" || s.Result != "interrupted" || *s.ExitCode != exitInterrupted || !strings.Contains(s.Text, "interrupted") {
		t.Errorf("interrupted summary: %s", hc[1].body)
	}
}
