package files

import (
	"strings"
	"testing"
)

func TestExtendedLengthPath(t *testing.T) {
	long := strings.Repeat("d", 120)
	tests := map[string]struct{ in, want string }{
		"short drive path unchanged": {`C:\data\backup\a.zip`, `C:\data\backup\a.zip`},
		"short UNC path unchanged":   {`\\nas\share\a.zip`, `\\nas\share\a.zip`},
		"long drive path": {
			`C:\ProgramData\` + long + `\` + long + `\a.zip`,
			`\\?\C:\ProgramData\` + long + `\` + long + `\a.zip`,
		},
		"lower-case drive letter and forward slashes": {
			`d:/backup/` + long + `/` + long + `/a.zip`,
			`\\?\D:\backup\` + long + `\` + long + `\a.zip`,
		},
		"dot and dot-dot resolved, doubled separators dropped": {
			`C:\x\.\y\..\` + long + `\\` + long + `\a.zip`,
			`\\?\C:\x\` + long + `\` + long + `\a.zip`,
		},
		"dot-dot does not climb above the drive": {
			`C:\..\..\` + long + `\` + long + `\a.zip`,
			`\\?\C:\` + long + `\` + long + `\a.zip`,
		},
		"long UNC path": {
			`\\nas\backup\` + long + `\` + long + `\a.zip`,
			`\\?\UNC\nas\backup\` + long + `\` + long + `\a.zip`,
		},
		"already extended": {
			`\\?\C:\` + long + `\` + long + `\a.zip`,
			`\\?\C:\` + long + `\` + long + `\a.zip`,
		},
		"NT namespace form kept": {
			`\??\C:\` + long + `\` + long + `\a.zip`,
			`\??\C:\` + long + `\` + long + `\a.zip`,
		},
		"device path kept": {
			`\\.\C:\` + long + `\` + long,
			`\\.\C:\` + long + `\` + long,
		},
		"relative path kept": {
			long + `\` + long + `\a.zip`,
			long + `\` + long + `\a.zip`,
		},
		"relative to the current drive kept": {
			`\` + long + `\` + long + `\a.zip`,
			`\` + long + `\` + long + `\a.zip`,
		},
		"drive-relative kept": {
			`C:` + long + `\` + long + `\a.zip`,
			`C:` + long + `\` + long + `\a.zip`,
		},
		"UNC without share kept": {
			`\\` + long + long + long,
			`\\` + long + long + long,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := extendedLengthPath(tt.in); got != tt.want {
				t.Errorf("extendedLengthPath(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}
