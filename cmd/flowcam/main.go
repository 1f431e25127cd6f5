// Command flowcam is the companion client: it pulls a stream from flowcamd
// (or any RTSP MJPEG server) over one or several network paths and plays it
// out to a file, a pipe or a player. Everything but reading the command
// line lives in internal/client.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"flowcam/internal/client"
)

func main() {
	cfg, err := client.ParseArgs(os.Args[1:], os.Stderr)
	if errors.Is(err, pflag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "flowcam:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := client.Run(ctx, cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "flowcam:", err)
		os.Exit(1)
	}
}
