package board

import "io/fs"

// JetsonJPEG lists the device nodes of a Jetson's JPEG engine (nvjpg, one
// node per engine: Orin has two). They are reached through NVIDIA's own
// libraries, not V4L2, so flowcamd only reports them; its callers fall back
// to a CPU encoder and say so.
func JetsonJPEG(fsys fs.FS) []string {
	if fsys == nil {
		return nil
	}
	nodes, _ := fs.Glob(fsys, "dev/nvhost-nvjpg*")
	for i, n := range nodes {
		nodes[i] = "/" + n
	}
	return nodes
}
