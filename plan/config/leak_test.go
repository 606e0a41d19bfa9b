package config

import (
	"bytes"
	"strings"
	"testing"
)

// leakSecret is the value of the sensitive variable in leak tests; it must
// never appear in diagnostics.
const leakSecret = "hunter2-Zq9"

func TestSecretsDoNotLeak(t *testing.T) {
	tests := map[string]string{
		"printed field": `application "A" {
  database        = database.css
  schemas         = { management = "a" }
  delivery_folder = "/data/${var.secret}"
}
`,
		"sql": `measurement "m" {
  database = database.css
  schema   = "m"
  after_restore {
    sql = "ALTER ROLE x PASSWORD '${var.secret}'"
  }
}
`,
		"command": `persistence "p" {
  path = "/h2"
  before {
    command = ["login", var.secret]
  }
}
`,
		"function error": `locals {
  n = tonumber(var.secret)
  m = regex("^[0-9]+$", var.secret)
  o = jsondecode(var.secret)
}
`,
		"wrong type": `database "pg" {
  host = "h"
  port = var.secret
}
`,
		"validation message": `variable "checked" {
  type      = string
  sensitive = true
  default   = "hunter2-Zq9"
  validation {
    condition     = length(var.checked) > 20
    error_message = "too short: ${var.checked}"
  }
}
`,
		"for_each": `application "all" {
  for_each = toset([var.secret])
  database = database.css
  schemas  = { management = each.key }
}
`,
		"schemas": `application "A" {
  database = database.css
  schemas  = { management = var.secret }
}
`,
		"notify url": `notify "n" {
  webhook { url = "ftp://hooks.example/${var.secret}" }
}
`,
		"notify header": `notify "n" {
  webhook {
    url     = "https://hooks.example/h"
    headers = { "X Key" = var.secret, X-Other = "a\n${var.secret}" }
  }
}
`,
		"notify on": `notify "n" {
  ntfy { url = "https://ntfy.example/${var.secret}" }
  on = ["failure", var.secret]
}
`,
	}
	for name, main := range tests {
		t.Run(name, func(t *testing.T) {
			dir := writeConfig(t, map[string]string{
				"base.hcl": baseHCL,
				"vars.hcl": "variable \"secret\" {\n  type = string\n  sensitive = true\n}\n",
				"main.hcl": main,
			})
			cfg, diags := Load(dir, LoadOptions{
				Vars:   map[string]string{"secret": leakSecret},
				Getenv: func(string) string { return "" },
			})
			if !diags.HasErrors() {
				t.Fatal("want an error")
			}
			text := diagText(t, cfg.Files, diags)
			doc, err := DiagnosticsJSON(diags)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(text, leakSecret) {
				t.Errorf("the secret leaks into the diagnostics text:\n%s", text)
			}
			if bytes.Contains(doc, []byte(leakSecret)) {
				t.Errorf("the secret leaks into the diagnostics JSON:\n%s", doc)
			}
		})
	}
}
