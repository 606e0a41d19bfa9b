package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The Windows example keeps its archives and reads the node's H2 database
// under %PROGRAMDATA%, and stops and starts the node's service with the
// service.cmd beside it.
func TestWindowsExample(t *testing.T) {
	for programData, want := range map[string]string{`C:\ProgramData`: `C:\ProgramData/AipConsole/AipNode`, "": "C:/ProgramData/AipConsole/AipNode"} {
		cfg, diags := Load("../../examples/windows", LoadOptions{
			Vars: map[string]string{"css_password": "pw"},
			Getenv: func(name string) string {
				if name == "PROGRAMDATA" {
					return programData
				}
				return ""
			},
		})
		if len(diags) > 0 {
			t.Fatalf("diagnostics:\n%s", diagText(t, cfg.Files, diags))
		}
		// On Windows these paths are absolute; elsewhere they are taken
		// relative to the configuration folder.
		if p := cfg.Stores["node"].Local.Path; !strings.HasSuffix(p, want+"/backup") {
			t.Errorf("PROGRAMDATA=%q: store path %s, want %s/backup", programData, p, want)
		}
		node := cfg.Resource("persistence.node")
		if node == nil || !strings.HasSuffix(node.Path, want+"/data") {
			t.Fatalf("PROGRAMDATA=%q: persistence.node %+v, want its path in %s/data", programData, node, want)
		}
		for _, h := range []struct {
			cmds   []Command
			action string
		}{{node.Before, "stop"}, {node.After, "start"}} {
			if len(h.cmds) != 1 || !slices.Equal(h.cmds[0].Argv, []string{"cmd.exe", "/d", "/c", "service.cmd", h.action, "AipNode"}) {
				t.Fatalf("%s hook: %+v", h.action, h.cmds)
			}
			if _, err := os.Stat(filepath.Join(h.cmds[0].Dir, "service.cmd")); err != nil || h.cmds[0].Timeout == 0 {
				t.Errorf("%s hook: %+v: %v", h.action, h.cmds[0], err)
			}
		}
	}
}
