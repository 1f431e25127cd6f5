package daemon

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"flowcam/stream/auth"
)

// hashPassword reads a password (twice, without echo, on a terminal; one
// line otherwise, for scripts) and prints the auth.users entry to paste
// into the config. The hashes depend on the realm, so the configured one is
// used (--config picks the file).
func hashPassword(in *os.File, out, prompt io.Writer, name, realm string) error {
	if name == "" || strings.ContainsAny(name, ":\"\\\r\n") {
		return fmt.Errorf("hash-password: user name %q must be non-empty without : \" \\ or line breaks", name)
	}
	pass, err := readPassword(in, prompt)
	if err != nil {
		return fmt.Errorf("hash-password: %w", err)
	}
	sha, md := auth.HashPassword(name, realm, pass)
	fmt.Fprintf(out, "# realm %q; add under auth.users:\n  - name: %s\n    sha256: %s\n    md5: %s\n    paths: [\"*\"]\n",
		realm, name, sha, md)
	return nil
}

func readPassword(in *os.File, prompt io.Writer) (string, error) {
	fd := int(in.Fd())
	saved, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil { // not a terminal: one line, for scripts
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			return "", errors.New("no password on standard input")
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	quiet := *saved
	quiet.Lflag &^= unix.ECHO
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		return "", fmt.Errorf("turn echo off: %w", err)
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, saved)
	r := bufio.NewReader(in)
	var got [2]string
	for i, p := range []string{"Password: ", "Again: "} {
		fmt.Fprint(prompt, p)
		line, err := r.ReadString('\n')
		fmt.Fprintln(prompt)
		if err != nil {
			return "", err
		}
		got[i] = strings.TrimRight(line, "\r\n")
	}
	if got[0] != got[1] {
		return "", errors.New("the passwords differ")
	}
	if got[0] == "" {
		return "", errors.New("empty password")
	}
	return got[0], nil
}
