package main

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/rebound-dev/rebound/clients/go/internal/testserver"
)

func TestPrintsTheHealthOfARealServer(t *testing.T) {
	server := testserver.Start(t)
	var out, errs bytes.Buffer
	if code := run([]string{"-addr", server.UnixAddr()}, &out, &errs); code != exitOK {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	for _, want := range []string{"SERVING_STATUS_SERVING", fmt.Sprintf("pid         %d", server.Pid()), "store"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestUnreachableServerExits69(t *testing.T) {
	var out, errs bytes.Buffer
	code := run([]string{"-addr", "unix:" + t.TempDir() + "/none.sock"}, &out, &errs)
	if code != exitUnavailable || !strings.Contains(errs.String(), "unavailable") {
		t.Errorf("exit %d, stderr %q", code, errs.String())
	}
	// One line, and the status message in it once (it used to be repeated after the
	// sentence).
	text := errs.String()
	if strings.Count(text, "\n") != 1 || !strings.HasPrefix(text, "rebound-health: ") {
		t.Errorf("not one line: %q", text)
	}
	message := regexp.MustCompile(`\(UNAVAILABLE: (.+)\); it may be`).FindStringSubmatch(text)
	if message == nil || strings.Count(text, message[1]) != 1 {
		t.Errorf("the error is not said exactly once: %q", text)
	}
}

func TestBadFlagsExit64(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run([]string{"-addr", "nonsense"}, &out, &errs); code != exitUsage {
		t.Errorf("exit %d, stderr %q", code, errs.String())
	}
}
