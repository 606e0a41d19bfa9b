package config

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// notifyHCL declares the three kinds of notify blocks, the second with a
// header and the third with a token from a sensitive variable.
const notifyHCL = `variable "ntfy_token" {
  type      = string
  sensitive = true
}

variable "hook" {
  type      = string
  sensitive = true
}

notify "hc" {
  healthchecks { url = "https://hc-ping.example/0f1e2d3c-uuid" }
}

notify "chat" {
  webhook {
    url     = var.hook
    headers = { Authorization = "Bearer ${var.ntfy_token}", X-Team = "dba" }
  }
  on = ["failure", "start"]
}

notify "phone" {
  ntfy {
    url   = "https://ntfy.example/planb?x=1"
    token = var.ntfy_token
  }
}
`

func TestNotifyBlocks(t *testing.T) {
	cfg := mustLoad(t, map[string]string{"notify.hcl": notifyHCL}, LoadOptions{
		Vars: map[string]string{"ntfy_token": "tk_secret", "hook": "https://chat.example/hooks/abc?key=k"},
	})
	if len(cfg.Notifiers) != 3 {
		t.Fatalf("%d notifiers, want 3", len(cfg.Notifiers))
	}
	chat, hc, phone := cfg.Notifiers[0], cfg.Notifiers[1], cfg.Notifiers[2]
	if hc.Name != "hc" || hc.Kind != Healthchecks || hc.URL.Reveal() != "https://hc-ping.example/0f1e2d3c-uuid" || hc.Host != "hc-ping.example" {
		t.Errorf("hc: %+v", hc)
	}
	if !slices.Equal(hc.On, NotifyEvents) || !hc.Sends(EventStart) {
		t.Errorf("healthchecks is sent %q by default, want every event", hc.On)
	}
	// A URL from a sensitive variable shows not even its host.
	if chat.Kind != Webhook || chat.URL.Reveal() != "https://chat.example/hooks/abc?key=k" || chat.Host != "" {
		t.Errorf("chat: %+v", chat)
	}
	if chat.Headers["Authorization"].Reveal() != "Bearer tk_secret" || chat.Headers["X-Team"].Reveal() != "dba" || len(chat.Headers) != 2 {
		t.Errorf("chat headers: %v", chat.Headers)
	}
	if !slices.Equal(chat.On, []NotifyEvent{EventStart, EventFailure}) || chat.Sends(EventSuccess) {
		t.Errorf("chat is sent %q, want start and failure in run order", chat.On)
	}
	if phone.Kind != Ntfy || phone.Token.Reveal() != "tk_secret" || phone.Host != "ntfy.example" {
		t.Errorf("phone: %+v", phone)
	}
	if !slices.Equal(phone.On, []NotifyEvent{EventFailure}) {
		t.Errorf("ntfy is sent %q by default, want failure", phone.On)
	}
	// Printing a notifier shows none of its secrets.
	printed := fmt.Sprintf("%v %+v %#v %v", *hc, *chat, *phone, chat.Headers)
	for _, secret := range []string{"0f1e2d3c", "abc", "key=k", "tk_secret", "dba", "x=1"} {
		if strings.Contains(printed, secret) {
			t.Errorf("printed notifiers show %q:\n%s", secret, printed)
		}
	}
}

// Without the values of sensitive variables, validate checks the blocks and
// the commands that send learn which variable is missing.
func TestNotifyWithoutSecrets(t *testing.T) {
	cfg := mustLoad(t, map[string]string{"notify.hcl": notifyHCL}, LoadOptions{Offline: true})
	if len(cfg.Notifiers) != 3 {
		t.Fatalf("%d notifiers offline, want 3", len(cfg.Notifiers))
	}
	cfg = mustLoad(t, map[string]string{"notify.hcl": notifyHCL}, LoadOptions{DeferSecrets: true})
	chat := cfg.Notifiers[0]
	if chat.URL.Missing() != "hook" || cfg.Notifiers[2].Token.Missing() != "ntfy_token" || chat.HeadersMissing != "ntfy_token" || chat.Headers != nil {
		t.Errorf("missing secrets: url %q, token %q, headers %q", chat.URL.Missing(), cfg.Notifiers[2].Token.Missing(), chat.HeadersMissing)
	}
	if err := cfg.Notifiers[2].MissingSecret(); err == nil || !strings.Contains(err.Error(), `the token of notify.phone comes from the sensitive variable "ntfy_token"`) {
		t.Errorf("MissingSecret of notify.phone: %v", err)
	}
	if err := cfg.Notifiers[1].MissingSecret(); err != nil {
		t.Errorf("MissingSecret of notify.hc: %v", err)
	}
}

func TestNotifyDiagnostics(t *testing.T) {
	tests := map[string]struct {
		src    string
		want   []string
		detail string
	}{
		"two kinds": {
			src:    "notify \"n\" {\n  ntfy { url = \"https://n.example/t\" }\n  webhook { url = \"https://w.example/h\" }\n}\n",
			want:   []string{"Invalid notify block @ notify.hcl:1:1"},
			detail: "exactly one healthchecks",
		},
		"no kind": {
			src:  "notify \"n\" {\n  on = [\"failure\"]\n}\n",
			want: []string{"Invalid notify block @ notify.hcl:1:1"},
		},
		"unknown kind": {
			src:  "notify \"n\" {\n  email { url = \"https://n.example/t\" }\n}\n",
			want: []string{"Invalid notify block @ notify.hcl:1:1", "Unsupported block type @ notify.hcl:2:3"},
		},
		"unknown event": {
			src:    "notify \"n\" {\n  ntfy { url = \"https://n.example/t\" }\n  on = [\"failure\", \"finish\"]\n}\n",
			want:   []string{"Unknown event @ notify.hcl:3:20"},
			detail: `"finish" in the on list of notify.n is not an event`,
		},
		"no events": {
			src:  "notify \"n\" {\n  ntfy { url = \"https://n.example/t\" }\n  on = []\n}\n",
			want: []string{"No events @ notify.hcl:3:8"},
		},
		"missing url": {
			src:  "notify \"n\" {\n  healthchecks {\n  }\n}\n",
			want: []string{"Missing required argument @ notify.hcl:2:16"},
		},
		"null url": {
			src:  "notify \"n\" {\n  healthchecks { url = null }\n}\n",
			want: []string{"Missing required value @ notify.hcl:2:24"},
		},
		"not http": {
			src:    "notify \"n\" {\n  webhook { url = \"ftp://files.example/secret-path\" }\n}\n",
			want:   []string{"Invalid notification URL @ notify.hcl:2:19"},
			detail: "The url of notify.n must be an http:// or https:// URL",
		},
		"no host": {
			src:  "notify \"n\" {\n  webhook { url = \"https:///secret-path\" }\n}\n",
			want: []string{"Invalid notification URL @ notify.hcl:2:19"},
		},
		"unknown attribute": {
			src:  "notify \"n\" {\n  ntfy {\n    url   = \"https://n.example/t\"\n    topic = \"t\"\n  }\n}\n",
			want: []string{"Unsupported argument @ notify.hcl:4:5"},
		},
		"headers on healthchecks": {
			src:  "notify \"n\" {\n  healthchecks {\n    url     = \"https://hc.example/u\"\n    headers = {}\n  }\n}\n",
			want: []string{"Unsupported argument @ notify.hcl:4:5"},
		},
		"bad header name": {
			src:    "notify \"n\" {\n  webhook {\n    url     = \"https://w.example/h\"\n    headers = { \"X Team\" = \"secret-path\" }\n  }\n}\n",
			want:   []string{"Invalid header name @ notify.hcl:4:15"},
			detail: `"X Team" in the headers of notify.n`,
		},
		"header value with a line break": {
			src:  "notify \"n\" {\n  webhook {\n    url     = \"https://w.example/h\"\n    headers = { X-A = \"a\\nsecret-path\" }\n  }\n}\n",
			want: []string{"Invalid header value @ notify.hcl:4:15"},
		},
		"sensitive on": {
			src:  "variable \"s\" {\n  sensitive = true\n  default   = \"failure\"\n}\nnotify \"n\" {\n  ntfy { url = \"https://n.example/t\" }\n  on = [var.s]\n}\n",
			want: []string{"Sensitive value in a printed field @ notify.hcl:7:8"},
		},
		"duplicate name": {
			src:  "notify \"n\" {\n  ntfy { url = \"https://n.example/t\" }\n}\nnotify \"n\" {\n  ntfy { url = \"https://n.example/u\" }\n}\n",
			want: []string{"Duplicate notify block @ notify.hcl:4:8"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := writeConfig(t, map[string]string{"base.hcl": baseHCL, "notify.hcl": tc.src})
			_, diags := Load(dir, LoadOptions{Getenv: func(string) string { return "" }})
			if got := diagLines(dir, diags); !slices.Equal(got, tc.want) {
				t.Errorf("diagnostics:\n  got  %q\n  want %q\n%s", got, tc.want, diagText(t, nil, diags))
			}
			if tc.detail != "" && (len(diags) == 0 || !strings.Contains(diags[0].Detail, tc.detail)) {
				t.Errorf("detail lacks %q:\n%s", tc.detail, diagText(t, nil, diags))
			}
			for _, d := range diags {
				if strings.Contains(d.Detail, "secret-path") {
					t.Errorf("a diagnostic shows the URL or a header value: %s", d.Detail)
				}
			}
		})
	}
}

// A notification URL from a sensitive variable that is invalid is
// reported without its value.
func TestNotifySensitiveURLNotShown(t *testing.T) {
	dir := writeConfig(t, map[string]string{"base.hcl": baseHCL, "notify.hcl": `variable "u" {
  type      = string
  sensitive = true
  default   = "ftp://hunter2-Zq9.example/x"
}
notify "n" {
  webhook { url = var.u }
}
`})
	_, diags := Load(dir, LoadOptions{Getenv: func(string) string { return "" }})
	if got := diagLines(dir, diags); !slices.Equal(got, []string{"Invalid notification URL @ notify.hcl:7:19"}) {
		t.Fatalf("diagnostics: %q", got)
	}
	if text := diagText(t, nil, diags); strings.Contains(text, leakSecret) {
		t.Errorf("the sensitive URL is shown:\n%s", text)
	}
}
