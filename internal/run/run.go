// Package run is the one door through which pfwdctl starts other programs
// (sshd -t, sshd -T, useradd, passwd, systemctl). Going through a Runner lets
// unit tests substitute a Stub that fails on any command it was not told to
// expect; end-to-end tests use Exec and the real binaries.
package run

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Runner runs one program and returns what it printed.
type Runner interface {
	Run(ctx context.Context, name string, args ...string) (stdout, stderr []byte, err error)
}

// Exec runs real programs.
type Exec struct {
	// Env, when set, replaces the environment of every command.
	Env []string
}

// Run implements Runner. A non-zero exit comes back as *exec.ExitError with
// stderr returned as well.
func (e Exec) Run(ctx context.Context, name string, args ...string) ([]byte, []byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	if e.Env != nil {
		cmd.Env = e.Env
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.Bytes(), errb.Bytes(), err
}

// InputRunner is a Runner that can also give a program stdin and a fixed
// environment: pfwdctl's hooks read their event as JSON on stdin, and must
// not inherit the caller's environment (sudo's, an operator's).
type InputRunner interface {
	RunInput(ctx context.Context, stdin []byte, env []string, name string, args ...string) (stdout, stderr []byte, err error)
}

// RunInput implements InputRunner: env replaces the environment (e.Env is
// not used), stdin is the program's standard input.
func (e Exec) RunInput(ctx context.Context, stdin []byte, env []string, name string, args ...string) ([]byte, []byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.Bytes(), errb.Bytes(), err
}

// Line renders a command for messages and stubs: "sshd -t -f /etc/ssh/sshd_config".
func Line(name string, args ...string) string {
	return strings.TrimSpace(name + " " + strings.Join(args, " "))
}

// Stub is a Runner for unit tests: it answers only the commands it expects,
// in order, and fails the test on anything else.
type Stub struct {
	T interface {
		Helper()
		Fatalf(string, ...any)
	}
	calls []stubCall
	Ran   []string
	// Inputs are the stdins given to RunInput, in order.
	Inputs [][]byte
}

type stubCall struct {
	line           string
	stdout, stderr string
	err            error
}

// Expect registers the next command line and its answer.
func (s *Stub) Expect(line, stdout, stderr string, err error) *Stub {
	s.calls = append(s.calls, stubCall{line, stdout, stderr, err})
	return s
}

// ErrExit stands in for a non-zero exit in stubs.
var ErrExit = errors.New("exit status 1")

// Run implements Runner.
func (s *Stub) Run(_ context.Context, name string, args ...string) ([]byte, []byte, error) {
	s.T.Helper()
	line := Line(name, args...)
	s.Ran = append(s.Ran, line)
	if len(s.calls) == 0 {
		s.T.Fatalf("unexpected command: %s", line)
		return nil, nil, fmt.Errorf("unexpected command %s", line)
	}
	c := s.calls[0]
	s.calls = s.calls[1:]
	if c.line != line {
		s.T.Fatalf("command = %q, want %q", line, c.line)
	}
	return []byte(c.stdout), []byte(c.stderr), c.err
}

// RunInput implements InputRunner: the command is matched as by Run, and
// its stdin kept in Inputs.
func (s *Stub) RunInput(ctx context.Context, stdin []byte, _ []string, name string, args ...string) ([]byte, []byte, error) {
	s.T.Helper()
	s.Inputs = append(s.Inputs, stdin)
	return s.Run(ctx, name, args...)
}

// Done fails the test if an expected command never ran.
func (s *Stub) Done() {
	s.T.Helper()
	if len(s.calls) > 0 {
		s.T.Fatalf("expected commands never ran: first %q", s.calls[0].line)
	}
}
