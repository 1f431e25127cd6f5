// Package flowrecv is the client's end of a multi-flow session: it
// registers one socket per path with the server, takes RTP packets from
// whichever flow they arrive on, and reports on each flow (receiver report,
// RFC 8888 feedback, registration) so the server can judge each path. The
// bytes it sends and reads are stream/format/multiflow's.
package flowrecv
