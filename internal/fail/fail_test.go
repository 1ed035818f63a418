package fail

import (
	"errors"
	"fmt"
	"testing"
)

// The one table from kinds to exit codes (docs/exit-codes.md).
func TestCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{errors.New("plain"), ExitFailed},
		{New(Failed, "", "refused"), ExitFailed},
		{New(Usage, "see --help", "bad flag"), ExitUsage},
		{fmt.Errorf("context: %w", New(Usage, "", "bad flag")), ExitUsage},
		{New(Unavailable, "", "no sshd"), ExitUnavailable},
		{&Error{Kind: Interrupted, Err: New(Usage, "", "x")}, ExitInterrupted}, // the outermost kind wins
	} {
		if got := Code(c.err); got != c.want {
			t.Errorf("Code(%v) = %d, want %d", c.err, got, c.want)
		}
	}
	if h := HintOf(&Error{Kind: Interrupted, Err: New(Failed, "do this", "x")}); h != "do this" {
		t.Errorf("HintOf through a wrapper without a hint = %q", h)
	}
}
