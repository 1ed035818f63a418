package sshlog

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/run"
)

func writeTree(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func gz(t *testing.T, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func readSource(t *testing.T, s Source) (string, Format) {
	t.Helper()
	rc, f, err := s.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), f
}

// The rotations come oldest first (auth.log.3.gz, .2.gz, .1, then
// auth.log), a gzip file is read by its magic, an unrelated name is left
// out, and under a tree the journal read is the tree's (--directory),
// never the host's.
func TestSourcesRotatedOldestFirst(t *testing.T) {
	dir := writeTree(t, map[string][]byte{
		"var/log/auth.log":      []byte("Nov 24 00:00:04 h sshd[4]: x\n"),
		"var/log/auth.log.1":    []byte("Nov 23 00:00:03 h sshd[3]: x\n"),
		"var/log/auth.log.2.gz": gz(t, "2026-11-22T00:00:02+00:00 h sshd[2]: x\n"),
		"var/log/auth.log.3.gz": gz(t, "Nov 21 00:00:01 h sshd[1]: x\n"),
		"var/log/auth.log.bak":  []byte("no\n"),
		"var/log/syslog":        []byte("no\n"),
		"var/log/journal/.keep": nil,
	})
	root := hostfs.MustRoot(dir)
	stub := &run.Stub{T: t}
	stub.Expect("journalctl -o json --no-pager -u ssh -u sshd --directory "+filepath.Join(dir, "var/log/journal")+" -n 1", "", "", run.ErrExit)
	srcs, err := Sources(context.Background(), root, stub, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	stub.Done()
	var names []string
	for _, s := range srcs {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, " "); got != "/var/log/auth.log.3.gz /var/log/auth.log.2.gz /var/log/auth.log.1 /var/log/auth.log" {
		t.Fatalf("sources: %s", got)
	}
	if text, f := readSource(t, srcs[1]); f != ISO || !strings.Contains(text, "sshd[2]") {
		t.Errorf("gzip source: %s %q", f, text)
	}
	if _, f := readSource(t, srcs[0]); f != RFC3164 {
		t.Errorf("format %s", f)
	}
}

func TestSourcesSecureAndSince(t *testing.T) {
	dir := writeTree(t, map[string][]byte{
		"var/log/secure":   []byte("Nov 24 00:00:04 h sshd[4]: x\n"),
		"var/log/secure.1": []byte("Nov 20 00:00:04 h sshd[4]: x\n"),
	})
	old := time.Now().Add(-30 * 24 * time.Hour)
	os.Chtimes(filepath.Join(dir, "var/log/secure.1"), old, old)
	srcs, err := Sources(context.Background(), hostfs.MustRoot(dir), nil, time.Now().Add(-24*time.Hour), time.Time{})
	if err != nil || len(srcs) != 1 || srcs[0].Name != "/var/log/secure" {
		t.Fatalf("%v %+v", err, srcs)
	}
}

func TestSourcesNone(t *testing.T) {
	if _, err := Sources(context.Background(), hostfs.MustRoot(t.TempDir()), nil, time.Time{}, time.Time{}); err == nil {
		t.Fatal("no error without any log")
	}
}

func TestSourcesJournal(t *testing.T) {
	dir := writeTree(t, map[string][]byte{"var/log/journal/x": nil, "var/log/auth.log": []byte("x\n")})
	root := hostfs.MustRoot(dir)
	jd := filepath.Join(dir, "var/log/journal")
	line := `{"__REALTIME_TIMESTAMP":"1795482123000000","_PID":"700","_COMM":"sshd","_HOSTNAME":"j","MESSAGE":"Accepted publickey for a from 10.0.0.1 port 1 ssh2: ED25519 ` + fpA + `"}` + "\n"
	stub := &run.Stub{T: t}
	stub.Expect("journalctl -o json --no-pager -u ssh -u sshd --directory "+jd+" -n 1", line, "", nil)
	since := time.Unix(1795400000, 0)
	stub.Expect("journalctl -o json --no-pager -u ssh -u sshd --directory "+jd+" --since @1795400000", line, "", nil)
	srcs, err := Sources(context.Background(), root, stub, since, time.Time{})
	if err != nil || len(srcs) != 1 {
		t.Fatalf("%v %+v", err, srcs)
	}
	rc, f, err := srcs[0].Open(context.Background())
	if err != nil || f != Journal {
		t.Fatal(err, f)
	}
	defer rc.Close()
	e, ok := NewScanner(rc, f, Options{}).Next()
	if !ok || e.PID != 700 || e.Fingerprint != fpA {
		t.Fatalf("%+v", e)
	}
	stub.Done()
}

// FileSource refuses what is not a regular file (a FIFO must not hang
// the run) and stays inside the root: a symlink to /etc/shadow in the
// tree leads into the tree.
func TestFileSourceConfined(t *testing.T) {
	dir := writeTree(t, map[string][]byte{"etc/shadow": []byte("tree's own\n")})
	if err := os.Symlink("/etc/shadow", filepath.Join(dir, "log")); err != nil {
		t.Fatal(err)
	}
	text, _ := readSource(t, FileSource(hostfs.MustRoot(dir), "/log"))
	if text != "tree's own\n" {
		t.Fatalf("read outside the root: %q", text)
	}
	text, _ = readSource(t, FileSource(hostfs.MustRoot(dir), "/../../../etc/shadow"))
	if text != "tree's own\n" {
		t.Fatalf("read outside the root: %q", text)
	}
	if _, _, err := FileSource(hostfs.MustRoot(dir), "/etc").Open(context.Background()); err == nil {
		t.Fatal("a directory opened as a log")
	}
}
