package runner

// The test helpers of the internal tests that the external ones
// (package runner_test, which may import runner/report) use too.
var (
	FolderDrill     = folderDrill
	ApplyAt         = applyAt
	RewriteManifest = rewriteManifest
)
