package netns

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// RunIn runs fn in network namespace ns (see Topology.RunIn).
func RunIn(ns string, fn func() error) error {
	type result struct {
		err   error
		panic any
	}
	done := make(chan result, 1)
	// A fresh goroutine, so that if the original namespace cannot be
	// restored we can return without UnlockOSThread: the runtime then
	// destroys the thread instead of reusing it in the wrong namespace.
	go func() {
		runtime.LockOSThread()
		var r result
		restored := func() bool {
			restore, err := enter(ns)
			if err != nil {
				r.err = err
				return true
			}
			func() {
				defer func() { r.panic = recover() }()
				r.err = fn()
			}()
			if err := restore(); err != nil {
				r.err = fmt.Errorf("netns %s: restoring the original namespace: %w (thread discarded)", ns, err)
				return false
			}
			return true
		}()
		if restored {
			runtime.UnlockOSThread()
		}
		done <- r
	}()
	r := <-done
	if r.panic != nil {
		panic(r.panic)
	}
	return r.err
}

// RunIn runs fn on a locked OS thread switched into namespace ns and switches
// back afterwards. Sockets that fn creates belong to ns for their whole life,
// whichever goroutine uses them later: that is how the relay (impair) and the
// test's UDP endpoints get their sockets. Goroutines that fn starts do not
// run in ns, so fn must create its sockets itself.
func (t *Topology) RunIn(ns string, fn func() error) error { return RunIn(ns, fn) }

// enter switches the calling (locked) thread into ns and returns the function
// that switches it back.
func enter(ns string) (restore func() error, err error) {
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("netns: open own namespace: %w", err)
	}
	target, err := unix.Open(nsPath(ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(orig)
		return nil, fmt.Errorf("netns: open %s: %w", nsPath(ns), err)
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		unix.Close(orig)
		return nil, fmt.Errorf("netns: setns %s: %w", ns, err)
	}
	return func() error {
		defer unix.Close(orig)
		return unix.Setns(orig, unix.CLONE_NEWNET)
	}, nil
}
