package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// notification is one request a notifyServer received.
type notification struct {
	path   string
	header http.Header
	body   string
}

// summaryDoc is the part of the summary document the tests look at.
type summaryDoc struct {
	Version   int    `json:"version"`
	Command   string `json:"command"`
	Event     string `json:"event"`
	Result    string `json:"result"`
	Text      string `json:"text"`
	ExitCode  *int   `json:"exit_code"`
	Error     string `json:"error"`
	Resources []struct {
		Address string         `json:"address"`
		Result  string         `json:"result"`
		Actions map[string]int `json:"actions"`
		Steps   map[string]int `json:"steps"`
	} `json:"resources"`
	Failures []struct {
		Label, Resource, Store, Archive, Error string
		Skipped                                int
	} `json:"failures"`
	Archives *struct{ Verified, Damaged, Unreadable int } `json:"archives"`
}

func (n notification) summary(t *testing.T) summaryDoc {
	t.Helper()
	var s summaryDoc
	if err := json.Unmarshal([]byte(n.body), &s); err != nil {
		t.Fatalf("%s: the body is not the JSON summary: %v\n%s", n.path, err, n.body)
	}
	return s
}

// notifyServer receives notifications on a local port.
type notifyServer struct {
	*httptest.Server
	mu  sync.Mutex
	got []notification
}

func newNotifyServer(t *testing.T) *notifyServer {
	s := &notifyServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.got = append(s.got, notification{r.URL.RequestURI(), r.Header.Clone(), string(body)})
		s.mu.Unlock()
	}))
	t.Cleanup(s.Close)
	return s
}

// take returns what arrived since the last take.
func (s *notifyServer) take() []notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	got := s.got
	s.got = nil
	return got
}

// byPath returns the notifications whose path starts with prefix.
func byPath(got []notification, prefix string) []notification {
	var out []notification
	for _, n := range got {
		if strings.HasPrefix(n.path, prefix) {
			out = append(out, n)
		}
	}
	return out
}

// paths lists the paths of got.
func paths(got []notification) []string {
	var out []string
	for _, n := range got {
		out = append(out, n.path)
	}
	return out
}

// notifySecrets are in the notify blocks of notifyHCL and must never be
// printed.
var notifySecrets = []string{"hc-uuid-Zq9", "chat-path-Zq9", "tok-Zq9-secret"}

// notifyHCL declares a healthchecks check, a webhook whose header and an
// ntfy topic whose token come from the sensitive variable notify_token,
// all on the server at base.
func notifyHCL(base string) string {
	return fmt.Sprintf(`
variable "notify_token" {
  type      = string
  sensitive = true
}

notify "hc" {
  healthchecks { url = "%[1]s/ping/hc-uuid-Zq9" }
}

notify "chat" {
  webhook {
    url     = "%[1]s/hooks/chat-path-Zq9?team=dba"
    headers = { Authorization = "Bearer ${var.notify_token}" }
  }
  on = ["start", "success", "failure"]
}

notify "phone" {
  ntfy {
    url   = "%[1]s/ntfy/planb"
    token = var.notify_token
  }
  on = ["success", "failure"]
}
`, base)
}

// Verify sends its outcome with the archive counts; plan, validate and list
// send nothing; --no-notify silences verify.
func TestNotifyCommandsInProcess(t *testing.T) {
	srv := newNotifyServer(t)
	dir := writeConfig(t, map[string]string{"main.hcl": fmt.Sprintf(`database "css" {
  host = "localhost"
}

store "node" {
  local { path = %q }
}

application "A" {
  database = database.css
  schemas  = { management = "a_mngt" }
  every    = "24h"
  stores   = [store.node]
}
`, t.TempDir()) + notifyHCL(srv.URL)})
	base := []string{"--chdir", dir, "--var", "notify_token=tok-Zq9-secret"}
	var printed strings.Builder
	for _, args := range [][]string{{"validate"}, {"plan"}, {"list"}, {"list", "--json"}, {"verify", "--no-notify"}} {
		code, out, errs := planbRun(t, "", append(base, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errs)
		}
		printed.WriteString(out + errs)
		if got := srv.take(); len(got) > 0 {
			t.Errorf("%v sent notifications: %q", args, paths(got))
		}
	}
	code, out, errs := planbRun(t, "", append(base, "verify")...)
	if code != 0 {
		t.Fatalf("verify: exit %d\n%s%s", code, out, errs)
	}
	printed.WriteString(out + errs)
	got := srv.take()
	// No start for verify; healthchecks, the webhook and ntfy get its success.
	if p := strings.Join(paths(got), " "); len(got) != 3 || !strings.Contains(p, "/ping/hc-uuid-Zq9 ") && !strings.HasSuffix(p, "/ping/hc-uuid-Zq9") {
		t.Fatalf("verify sent %q, want the success to each notifier", paths(got))
	}
	hc := byPath(got, "/ping/")[0].summary(t)
	if hc.Version != 1 || hc.Command != "verify" || hc.Event != "success" || hc.Archives == nil || hc.Archives.Verified != 0 || *hc.ExitCode != 0 {
		t.Errorf("verify summary: %+v", hc)
	}
	ntfy := byPath(got, "/ntfy/")[0]
	if ntfy.header.Get("Authorization") != "Bearer tok-Zq9-secret" || !strings.HasPrefix(ntfy.body, "planb verify succeeded on ") {
		t.Errorf("ntfy: %q %v", ntfy.body, ntfy.header)
	}
	for _, s := range notifySecrets {
		if strings.Contains(printed.String(), s) {
			t.Errorf("output shows %q:\n%s", s, printed.String())
		}
	}
}

// A sensitive variable without a value leaves its notifier out, naming the
// variable; the others are sent and the exit code is the command's.
func TestNotifyMissingSecret(t *testing.T) {
	srv := newNotifyServer(t)
	dir := writeConfig(t, map[string]string{"main.hcl": fmt.Sprintf(`store "node" {
  local { path = %q }
}

persistence "h2" {
  path   = %q
  stores = [store.node]
}
`, t.TempDir(), t.TempDir()) + notifyHCL(srv.URL)})
	code, out, errs := planbRun(t, "", "--chdir", dir, "verify")
	if code != 0 {
		t.Fatalf("verify: exit %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(errs, "notify=notify.chat") || !strings.Contains(errs, `sensitive variable \"notify_token\"`) {
		t.Errorf("the notifier left out is not named with its variable:\n%s", errs)
	}
	if got := srv.take(); len(got) != 1 || !strings.HasPrefix(got[0].path, "/ping/hc-uuid-Zq9") {
		t.Errorf("sent %q, want the healthchecks ping only", paths(got))
	}
}

// Invalid notify blocks are reported at file:line by validate, offline.
func TestNotifyValidate(t *testing.T) {
	dir := writeConfig(t, map[string]string{"main.hcl": `store "node" {
  local { path = "/tmp/x" }
}

notify "chat" {
  webhook { url = "https://chat.example/hooks/chat-path-Zq9" }
  on = ["failure", "finished"]
}

notify "both" {
  ntfy { url = "https://ntfy.example/t" }
  healthchecks { url = "https://hc.example/hc-uuid-Zq9" }
}
`})
	code, _, errs := planbRun(t, "", "--chdir", dir, "validate")
	if code != exitError {
		t.Fatalf("validate: exit %d, want 1\n%s", code, errs)
	}
	for _, want := range []string{
		`Unknown event`, `"finished" in the on list of notify.chat is not an event`, "main.hcl line 7",
		"Invalid notify block", "main.hcl line 10",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("validate lacks %q:\n%s", want, errs)
		}
	}
	os.WriteFile(filepath.Join(dir, "main.hcl"), []byte("notify \"x\" {\n  webhook { url = \"mailto:ops@example.com\" }\n}\n"), 0o644)
	if code, _, errs := planbRun(t, "", "--chdir", dir, "validate"); code != exitError || !strings.Contains(errs, "Invalid notification URL") || !strings.Contains(errs, "main.hcl line 2") {
		t.Errorf("validate of a mailto URL: exit %d\n%s", code, errs)
	}
}

// A damaged archive makes verify send a failure with the counts and the
// archive that failed.
func TestNotifyVerifyFailure(t *testing.T) {
	srv := newNotifyServer(t)
	backups := t.TempDir()
	writeTree(t, filepath.Join(backups, "applications", "A"), map[string]string{"A_2026-11-25-08-00-00.zip": "not a zip archive"})
	dir := writeConfig(t, map[string]string{"main.hcl": fmt.Sprintf(`database "css" {
  host = "localhost"
}

store "node" {
  local { path = %q }
}

application "A" {
  database = database.css
  schemas  = { management = "a_mngt" }
  stores   = [store.node]
}
`, backups) + notifyHCL(srv.URL)})
	code, out, errs := planbRun(t, "", "--chdir", dir, "--var", "notify_token=tok-Zq9-secret", "verify")
	if code != exitError {
		t.Fatalf("verify of a damaged archive: exit %d, want 1\n%s%s", code, out, errs)
	}
	hc := byPath(srv.take(), "/ping/")
	if len(hc) != 1 || hc[0].path != "/ping/hc-uuid-Zq9/fail" {
		t.Fatalf("healthchecks got %q, want the failure", paths(hc))
	}
	s := hc[0].summary(t)
	if s.Event != "failure" || *s.ExitCode != 1 || s.Archives == nil || s.Archives.Verified != 1 || s.Archives.Damaged != 1 ||
		len(s.Failures) != 1 || s.Failures[0].Label != "damaged" || s.Failures[0].Archive != "applications/A/A_2026-11-25-08-00-00.zip" ||
		s.Failures[0].Resource != "application.A" || s.Failures[0].Store != "node" || s.Failures[0].Error == "" ||
		!strings.Contains(s.Text, "1 damaged") {
		t.Errorf("verify failure summary: %s", hc[0].body)
	}
}
