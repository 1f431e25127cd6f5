// Package flowsend is the server's end of a multi-flow session: it accepts
// each flow's registration, sends every frame's packets on the paths its
// scheduler (stream/server/schedule) picks, paced, and feeds the client's
// per-flow reports back into the per-path estimates. The bytes it sends and
// reads are stream/format/multiflow's.
package flowsend
