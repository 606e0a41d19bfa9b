package postgres

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// CheckClient runs `pg_dump --version` (from c.BinDir or PATH) and returns
// its version text ("15.18 (Debian 15.18-0+deb12u1)"). It fails when pg_dump
// is missing, its output cannot be read, or its major version is older than
// the server's (serverVersionNum is server_version_num, e.g. 150018): pg_dump
// refuses to dump a newer server.
func CheckClient(ctx context.Context, c ConnConfig, serverVersionNum int) (clientVersion string, err error) {
	path, err := c.program("pg_dump")
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, path, "--version")
	cmd.Env = c.childEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w: %s", path, err, strings.TrimSpace(stderr.String()))
	}
	num, text, err := parseClientVersion(string(out))
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", path, err)
	}
	if err := checkVersions(num, text, serverVersionNum); err != nil {
		return text, fmt.Errorf("%s: %w", path, err)
	}
	return text, nil
}

// versionRE matches the version in `pg_dump (PostgreSQL) 15.18 (Debian …)`,
// `… 9.6.24`, `… 17devel`, `… 16beta2`, `… 16rc1`.
var versionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)(?:\.(\d+))?(?:\.(\d+))?`)

// parseClientVersion reads `pg_dump --version` output and returns the
// version as a server_version_num-style number (150018, 90624; a
// development or pre-release version counts as minor 0) and as text.
func parseClientVersion(out string) (num int, text string, err error) {
	line := strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
	m := versionRE.FindStringSubmatch(line)
	if m == nil {
		return 0, "", fmt.Errorf("unrecognised version output %q", line)
	}
	text = strings.TrimSpace(line[strings.Index(line, "(PostgreSQL)")+len("(PostgreSQL)"):])
	atoi := func(s string) int {
		n, _ := strconv.Atoi(s) // the pattern admits digits only; "" is 0
		return n
	}
	major, second, third := atoi(m[1]), atoi(m[2]), atoi(m[3])
	if major >= 10 {
		return major*10000 + second, text, nil
	}
	return major*10000 + second*100 + third, text, nil
}

// majorOf returns a comparable major version of a server_version_num: 1500
// for 150018 (15), 906 for 90624 (9.6: before 10 the major had two parts).
func majorOf(num int) int {
	if num >= 100000 {
		return num / 10000 * 100
	}
	return num / 100
}

// majorText formats a major version from majorOf: "15", "9.6".
func majorText(major int) string {
	if major >= 1000 {
		return strconv.Itoa(major / 100)
	}
	return fmt.Sprintf("%d.%d", major/100, major%100)
}

// checkVersions fails when the client's major version is older than the
// server's. A newer client is fine: pg_dump dumps older servers.
func checkVersions(clientNum int, clientText string, serverNum int) error {
	cm, sm := majorOf(clientNum), majorOf(serverNum)
	if cm < sm {
		return fmt.Errorf("pg_dump %s is older than the server (PostgreSQL %s): install the PostgreSQL %s client (or newer) and point bin_dir at it",
			clientText, majorText(sm), majorText(sm))
	}
	return nil
}
