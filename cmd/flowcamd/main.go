// Command flowcamd is the flowcam camera streaming daemon: it captures
// frames, encodes them to JPEG once, and serves them over RTSP.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"
)

func main() {
	cfg, err := loadConfig(os.Args[1:], os.Stderr)
	if errors.Is(err, pflag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "flowcamd:", err)
		os.Exit(2)
	}
	if cfg.ShowVersion {
		printVersion(os.Stdout)
		return
	}
	if done, err := listDevices(os.Stdout, cfg); done {
		if err != nil {
			fmt.Fprintln(os.Stderr, "flowcamd:", err)
			os.Exit(1)
		}
		return
	}
	if cfg.ListInterfaces {
		if err := listInterfaces(os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "flowcamd:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, cfg, newLogger(cfg.Log, os.Stderr)); err != nil {
		fmt.Fprintln(os.Stderr, "flowcamd:", err)
		os.Exit(1)
	}
}
