package files

import (
	"path"
	"strings"
)

// maxShortPath is the length from which a Windows path needs the
// extended-length prefix \\?\: MAX_PATH (260) less the 12 characters the
// system keeps for an 8.3 name when it creates a directory.
const maxShortPath = 248

// extendedLengthPath returns the extended-length form of the absolute
// Windows path p (\\?\C:\… or \\?\UNC\server\share\…) when p is too long
// for the ordinary Win32 calls, and p unchanged otherwise. The prefix turns
// off the system's own normalisation, so the path is cleaned first: "/"
// becomes "\", and "." and ".." elements are resolved. A path already in
// extended-length or device form, and a relative one, is left as it is.
//
// It works on Windows syntax on every system, so it is tested everywhere;
// LongPath applies it on Windows.
func extendedLengthPath(p string) string {
	if len(p) < maxShortPath || strings.HasPrefix(p, `\\?\`) || strings.HasPrefix(p, `\??\`) || strings.HasPrefix(p, `\\.\`) {
		return p
	}
	s := strings.ReplaceAll(p, `\`, "/")
	var prefix, rest string
	switch {
	case len(s) >= 3 && isDriveLetter(s[0]) && s[1] == ':' && s[2] == '/':
		prefix, rest = `\\?\`+strings.ToUpper(s[:1])+`:`, s[2:]
	case strings.HasPrefix(s, "//") && !strings.HasPrefix(s, "///"):
		// \\server\share\rest
		parts := strings.SplitN(s[2:], "/", 3)
		if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
			return p
		}
		prefix = `\\?\UNC\` + parts[0] + `\` + parts[1]
		rest = "/"
		if len(parts) == 3 {
			rest += parts[2]
		}
	default:
		return p // relative, or relative to the current drive
	}
	rest = path.Clean(rest)
	if rest == "/" {
		return prefix + `\`
	}
	return prefix + strings.ReplaceAll(rest, "/", `\`)
}

func isDriveLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
