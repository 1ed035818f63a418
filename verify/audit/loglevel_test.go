package audit

import (
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/render"
)

// LogLevel below VERBOSE for the account is a warning that says what is
// lost (sessions cannot name keys); DEBUG logs the fingerprints too and
// is not reported.
func TestLogLevelBelowVerboseForTheAccount(t *testing.T) {
	t.Parallel()
	p := render.DefaultParams()
	rep := audit(t, tree(t, p, map[string]string{dropDir + "05-local.conf": "Match User pfwd\n    LogLevel INFO\n"}, nil), p)
	found := false
	for _, f := range rep.Findings {
		if f.Severity == Warn && strings.Contains(f.Title, "LogLevel is INFO") && strings.Contains(f.Detail, "cannot name keys") && strings.HasSuffix(f.At(), "05-local.conf:2") {
			found = true
		}
	}
	if !found {
		t.Errorf("no LogLevel warning for pfwd:\n%s", dump(rep))
	}
	rep = audit(t, tree(t, p, map[string]string{dropDir + "05-local.conf": "LogLevel DEBUG1\n"}, nil), p)
	for _, f := range rep.Findings {
		if strings.Contains(f.Title, "LogLevel") && f.Severity != OK {
			t.Errorf("DEBUG1 reported: %s", f.Title)
		}
	}
}
