package verify_test

import (
	"context"
	"testing"

	"github.com/pfwdctl/pfwdctl/verify"
	"github.com/pfwdctl/pfwdctl/verify/lab"
)

// BenchmarkRun is one whole verify run (connect, authenticate, nine
// checks) against a lab sshd, in-process. bench/verify.sh compares the
// pfwdctl binary with the OpenSSH client.
func BenchmarkRun(b *testing.B) {
	s, o := againstTB(b, lab.Options{})
	_ = s
	for b.Loop() {
		rep, err := verify.Run(context.Background(), o)
		if err != nil || !rep.Passed {
			b.Fatalf("%v %+v", err, rep)
		}
	}
}
