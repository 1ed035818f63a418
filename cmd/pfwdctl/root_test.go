package main

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"strings"
	"testing"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/testenv"
	"github.com/pfwdctl/pfwdctl/render/rendertest"
)

// testEnv is an Env over buffers and the real programs.
func testEnv() (*Env, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &Env{IO: IO{In: strings.NewReader(""), Out: &out, Err: &errb}, Runner: run.Exec{},
		Getenv: func(string) string { return "" }, Now: time.Now}, &out, &errb
}

// inTree runs pfwdctl --root root ARGS and fails the test unless it exits
// with want; it returns what was printed on stdout and stderr.
func inTree(t *testing.T, root hostfs.Root) func(want int, args ...string) (stdout, stderr string) {
	return func(want int, args ...string) (string, string) {
		t.Helper()
		env, out, errb := testEnv()
		if code := Main(append([]string{"--root", root.Dir()}, args...), env); code != want {
			t.Fatalf("%v: exit %d, want %d\n%s%s", args, code, want, out, errb)
		}
		return out.String(), errb.String()
	}
}

// An interrupt that lands while apply runs sshd -t must not hide what
// happened: sshd's refusal (and its hint) is still printed, the exit code
// is 130, and --json still gets one document.
func TestInterruptKeepsTheError(t *testing.T) {
	sshd := testenv.Sshd(t)
	root := rendertest.New(t, rendertest.Tree{Files: map[string]string{
		"/etc/ssh/sshd_config.d/05-broken.conf": "NoSuchKeyword yes\n",
	}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // as if Ctrl-C came before sshd -t finished

	env, _, errb := testEnv()
	code := mainContext(ctx, []string{"--root", root.Dir(), "apply", "--sshd", sshd, "--no-reload"}, env)
	if code != 130 {
		t.Errorf("exit %d, want 130", code)
	}
	for _, want := range []string{"pfwdctl: interrupted", "NoSuchKeyword", "pfwdctl: hint: fix the line sshd names"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}

	env, out, _ := testEnv()
	mainContext(ctx, []string{"--root", root.Dir(), "--json", "apply", "--sshd", sshd, "--no-reload"}, env)
	dec := json.NewDecoder(out)
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil || doc["exit_code"] != float64(130) || !strings.Contains(doc["error"].(string), "NoSuchKeyword") {
		t.Errorf("--json: %v %v", doc, err)
	}
	if dec.More() {
		t.Error("--json printed two documents")
	}
}
