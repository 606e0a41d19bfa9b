package config

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// Format returns src in canonical layout (hclwrite.Format: indentation,
// aligned equals signs, spacing). A file with syntax errors is not
// formatted: the result is nil and the diagnostics say why. filename is
// used in diagnostics only.
func Format(src []byte, filename string) ([]byte, hcl.Diagnostics) {
	if _, diags := parseConfig(src, filename); diags.HasErrors() {
		return nil, diags
	}
	return hclwrite.Format(src), nil
}
