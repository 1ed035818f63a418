package lab_test

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/verify/lab"
)

// The catalogue is sorted by name, each break says what it does, and an
// unknown name is a usage error listing the known ones before anything
// starts. (Every break against a real sshd: cmd/pfwdctl's TestLabBreaks.)
func TestBreaks(t *testing.T) {
	t.Parallel()
	bs := lab.Breaks()
	if len(bs) < 12 || !sort.SliceIsSorted(bs, func(i, j int) bool { return bs[i].Name < bs[j].Name }) {
		t.Fatalf("breaks: %+v", bs)
	}
	for _, b := range bs {
		if b.Name == "" || b.What == "" {
			t.Errorf("break %+v", b)
		}
	}
	ss, err := lab.Open(context.Background(), "", []string{"permittty", "nope"})
	if ss != nil || fail.Code(err) != fail.ExitUsage || !strings.Contains(err.Error(), `unknown --break "nope"`) || !strings.Contains(fail.HintOf(err), "permittty") {
		t.Fatalf("session %v, err %v (hint %q)", ss, err, fail.HintOf(err))
	}
}
