package auditlog

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/hostfs"
)

func TestAppendThenRead(t *testing.T) {
	root := hostfs.MustRoot(t.TempDir())
	clock := time.Date(2026, 6, 1, 10, 0, 0, 500, time.FixedZone("x", 3600))
	var syslogged []string
	l := Log{Root: root, Now: func() time.Time { return clock }, Getenv: func(k string) string { return map[string]string{"SUDO_USER": "alice"}[k] },
		Syslog: func(line string) { syslogged = append(syslogged, line) }}
	if err := l.Append(Event{Action: ActionKeyAdd, Account: "pfwd"}, Event{Action: ActionDropIn, Account: "pfwd", Path: "/etc/x", After: Hash([]byte("x"), true)}); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(); err != nil {
		t.Fatal(err)
	}
	ev, err := l.Read()
	if err != nil || len(ev) != 2 || len(syslogged) != 2 {
		t.Fatalf("read %+v %v, syslog %q", ev, err, syslogged)
	}
	if e := ev[1]; !e.Time.Equal(clock.Truncate(time.Second)) || e.Time.Location() != time.UTC || e.Admin != "alice" ||
		e.After != "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881" || e.Before != "" {
		t.Errorf("event = %+v", e)
	}
	if fi, err := os.Stat(root.Path(Path)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("log file %v %v", fi, err)
	}
	if Hash(nil, false) != "" || Hash(nil, true) == "" {
		t.Error("Hash: an absent file has no hash, an empty one does")
	}
}

// A symlink at the log's path is refused, not appended through.
func TestAppendRefusesSymlink(t *testing.T) {
	root := hostfs.MustRoot(t.TempDir())
	outside := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(outside, []byte("keep\n"), 0o644)
	os.MkdirAll(root.Path(filepath.Dir(Path)), 0o750)
	os.Symlink(outside, root.Path(Path))
	if err := (Log{Root: root, Syslog: func(string) {}}).Append(Event{Action: ActionKeyAdd}); err == nil {
		t.Fatal("appended through a symlink")
	}
	if data, _ := os.ReadFile(outside); string(data) != "keep\n" {
		t.Errorf("victim = %q", data)
	}
}
