package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func hostname(name string) func() (string, error) {
	return func() (string, error) { return name, nil }
}

func TestNodeDefaultsToTheHostName(t *testing.T) {
	cfg := mustLoad(t, map[string]string{"main.hcl": `application "A" {
  database = database.css
  schemas  = { management = "a_mngt" }
}
`}, LoadOptions{Hostname: hostname("aip-1.corp")})
	if cfg.Node != "aip-1.corp" || !cfg.NodeFromHost {
		t.Errorf("node = %q (from host %v), want the host name", cfg.Node, cfg.NodeFromHost)
	}
	r := cfg.Resource("application.A")
	if got := cfg.OwnersOf(r, r.Stores[0]); !slices.Equal(got, []string{"aip-1.corp"}) {
		t.Errorf("owners without owners set = %q, want this node alone", got)
	}
}

func TestNodeAndOwners(t *testing.T) {
	cfg := mustLoad(t, map[string]string{"main.hcl": `variable "node" {
  default = "node-b"
}
planb {
  node = var.node
}
store "pair" {
  owners = ["node-a", "node-b"]
  local { path = "/pair" }
}
application "A" {
  database = database.css
  schemas  = { management = "a_mngt" }
}
application "B" {
  database = database.css
  schemas  = { management = "b_mngt" }
  owners   = ["node-b", "node-c"]
}
`}, LoadOptions{Hostname: func() (string, error) { return "", errors.New("no host name here") }})
	if cfg.Node != "node-b" || cfg.NodeFromHost {
		t.Fatalf("node = %q (from host %v), want node-b from planb { node }", cfg.Node, cfg.NodeFromHost)
	}
	a, b := cfg.Resource("application.A"), cfg.Resource("application.B")
	node, pair := cfg.Stores["node"], cfg.Stores["pair"]
	for _, c := range []struct {
		r    *Resource
		s    *Store
		want []string
	}{
		{a, node, []string{"node-b"}},
		{a, pair, []string{"node-a", "node-b"}},
		{b, node, []string{"node-b", "node-c"}},
		{b, pair, []string{"node-b", "node-c"}}, // the resource's owners win
	} {
		if got := cfg.OwnersOf(c.r, c.s); !slices.Equal(got, c.want) {
			t.Errorf("owners of %s in store.%s = %q, want %q", c.r.Address, c.s.Name, got, c.want)
		}
	}

	// The node is part of the digest: a plan saved on one node is stale on
	// another.
	other := mustLoad(t, map[string]string{"main.hcl": `planb {
  node = "node-a"
}
`}, LoadOptions{})
	same := mustLoad(t, map[string]string{"main.hcl": `planb {
  node = "node-a"
}
`}, LoadOptions{})
	if other.Digest != same.Digest {
		t.Errorf("equal configurations differ in digest")
	}
	hostA := mustLoad(t, map[string]string{"main.hcl": "\n"}, LoadOptions{Hostname: hostname("node-a")})
	hostB := mustLoad(t, map[string]string{"main.hcl": "\n"}, LoadOptions{Hostname: hostname("node-b")})
	if hostA.Digest == hostB.Digest {
		t.Errorf("the same files on two nodes have the same digest")
	}
}

func TestNodeDiagnostics(t *testing.T) {
	app := `
application "A" {
  database = database.css
  schemas  = { management = "a_mngt" }
  %s
}
`
	cases := map[string]struct {
		main     string
		host     string
		hostErr  error
		offline  bool
		want     []string
		inDetail string
	}{
		"invalid node": {
			main:     "planb {\n  node = \"node a\"\n}\n",
			want:     []string{"Invalid node name @ main.hcl:2:10"},
			inDetail: `' ' is not allowed`,
		},
		"empty node": {
			main:     "planb {\n  node = \"\"\n}\n",
			want:     []string{"Invalid node name @ main.hcl:2:10"},
			inDetail: "it is empty",
		},
		"null node": {
			main: "planb {\n  node = null\n}\n",
			want: []string{"Missing required value @ main.hcl:2:10"},
		},
		"node starting with a dot": {
			main:     "planb {\n  node = \".hidden\"\n}\n",
			want:     []string{"Invalid node name @ main.hcl:2:10"},
			inDetail: "start with a letter or a digit",
		},
		"node too long": {
			main:     "planb {\n  node = \"" + strings.Repeat("n", 254) + "\"\n}\n",
			want:     []string{"Invalid node name @ main.hcl:2:10"},
			inDetail: "longer than 253",
		},
		"host name that cannot name a node": {
			main:     "\n",
			host:     "host/with/slashes",
			want:     []string{"Cannot name this node"},
			inDetail: `planb { node = "node-a" }`,
		},
		"host name that cannot be read": {
			main:     "\n",
			hostErr:  errors.New("uname failed"),
			want:     []string{"Cannot name this node"},
			inDetail: "uname failed",
		},
		"empty owners": {
			main:     strings.Replace(app, "%s", "owners = []", 1),
			want:     []string{"No owners @ main.hcl:5:12"},
			inDetail: "leave it out",
		},
		"duplicate owner": {
			main:     "planb {\n  node = \"a\"\n}\n" + strings.Replace(app, "%s", `owners = ["a", "b", "a"]`, 1),
			want:     []string{"Duplicate owner @ main.hcl:8:12"},
			inDetail: `"a" is listed twice`,
		},
		"invalid owner": {
			main:     strings.Replace(app, "%s", `owners = ["node-a", "-x"]`, 1),
			want:     []string{"Invalid node name @ main.hcl:5:12"},
			inDetail: `"-x" in owners`,
		},
		"owners without this node": {
			main:     "planb {\n  node = \"node-c\"\n}\n" + strings.Replace(app, "%s", `owners = ["node-a", "node-b"]`, 1),
			want:     []string{"This node is not an owner @ main.hcl:8:12"},
			inDetail: `this node is "node-c" (set by planb { node })`,
		},
		"store owners without this node": {
			main:     "store \"pair\" {\n  owners = [\"node-a\", \"node-b\"]\n  local { path = \"/p\" }\n}\n",
			host:     "node-c",
			want:     []string{"This node is not an owner @ main.hcl:2:12"},
			inDetail: `the host name; planb { node } is not set`,
		},
		"owners of the wrong type": {
			main: strings.Replace(app, "%s", `owners = "node-a"`, 1),
			want: []string{"Incorrect attribute value type @ main.hcl:5:12"},
		},
		"offline: a node from a variable without a value is not checked against owners": {
			main:    "variable \"node\" {\n  type = string\n}\nplanb {\n  node = var.node\n}\n" + strings.Replace(app, "%s", `owners = ["node-a", "node-b"]`, 1),
			offline: true,
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := writeConfig(t, map[string]string{"base.hcl": baseHCL, "main.hcl": c.main})
			host := c.host
			if host == "" {
				host = "node-a"
			}
			opts := LoadOptions{Getenv: func(string) string { return "" }, Offline: c.offline,
				Hostname: func() (string, error) { return host, c.hostErr }}
			cfg, diags := Load(dir, opts)
			got := diagLines(dir, diags)
			if !slices.Equal(got, c.want) {
				t.Fatalf("diagnostics = %q, want %q\n%s", got, c.want, diagText(t, cfg.Files, diags))
			}
			if c.inDetail != "" && !strings.Contains(diags[0].Detail, c.inDetail) {
				t.Errorf("detail %q does not say %q", diags[0].Detail, c.inDetail)
			}
			if c.offline && cfg.Node != "" {
				t.Errorf("offline node = %q, want unknown", cfg.Node)
			}
		})
	}
}
