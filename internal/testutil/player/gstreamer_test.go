package player

import (
	"bytes"
	"os"
	"testing"
)

func TestOnlyPauseRace(t *testing.T) {
	race, err := os.ReadFile("testdata/gst-pause-race.txt")
	if err != nil {
		t.Fatal(err)
	}
	afterEOS := race[bytes.Index(race, []byte("Got EOS")):]
	other := []byte("ERROR: from element /GstPipeline:pipeline0/GstRTSPSrc:rtspsrc0: Unauthorized\n" +
		"Additional debug info:\n../gst/rtsp/gstrtspsrc.c(6795): gst_rtspsrc_send (): /GstPipeline:pipeline0/GstRTSPSrc:rtspsrc0:\n" +
		"Unauthorized (401)\n")
	for _, c := range []struct {
		name string
		out  []byte
		want bool
	}{
		{"the PAUSE race recorded from gst-launch 1.22", afterEOS, true},
		{"no error printed", []byte("Got EOS from element \"pipeline0\".\nFreeing pipeline ...\n"), false},
		{"another error", other, false},
		{"the race and another error", append(append([]byte{}, afterEOS...), other...), false},
	} {
		if got := onlyPauseRace(c.out); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
