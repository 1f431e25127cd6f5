// Command flowcamd is the flowcam camera streaming daemon: it captures
// frames, encodes them to JPEG once, and serves them over RTSP. Everything
// but reading the command line lives in internal/daemon.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"flowcam/internal/daemon"
)

func main() {
	args := os.Args[1:]
	cfg, err := daemon.LoadConfig(args, os.Stderr)
	if errors.Is(err, pflag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "flowcamd:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	reload := func() (*daemon.Config, error) { return daemon.LoadConfig(args, io.Discard) }
	if err := daemon.Run(ctx, cfg, reload); err != nil {
		fmt.Fprintln(os.Stderr, "flowcamd:", err)
		os.Exit(1)
	}
}
