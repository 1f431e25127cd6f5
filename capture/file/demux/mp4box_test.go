package demux

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/abema/go-mp4"
)

func TestGuardMP4(t *testing.T) {
	b := &mp4.BoxInfo{Offset: 40, Type: mp4.StrToBoxType("trun")}
	err := guardMP4("decoding", b, func() error { panic(io.ErrUnexpectedEOF) })
	var pe *mp4PanicError
	if !errors.As(err, &pe) || !errors.Is(err, io.ErrUnexpectedEOF) ||
		!strings.Contains(err.Error(), "decoding trun at offset 40") {
		t.Errorf("a panic became %v", err)
	}
	if err := guardMP4("decoding", b, func() error { return io.EOF }); err != io.EOF {
		t.Errorf("an error became %v", err)
	}
}
