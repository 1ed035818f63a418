package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/pfwdctl/pfwdctl/internal/fail"
)

// cobra's argument errors are typed usage errors when they leave the
// command tree, so internal/fail alone decides their exit code (no reading
// of cobra's messages). "pfwdctl user bogus" used to print help and exit 0.
func TestCobraArgErrorsAreTyped(t *testing.T) {
	for _, args := range [][]string{
		{"bogus"}, {"user", "bogus"}, {"render", "extra"}, {"completion"}, {"revoke"}, {"add-key", "a", "b"}, {"render", "--bogus"},
	} {
		env, _, _ := testEnv()
		root := NewRootCmd(&Globals{Env: env})
		root.SetArgs(args)
		err := root.Execute()
		var fe *fail.Error
		if !errors.As(err, &fe) || fe.Kind != fail.Usage || fail.Code(err) != fail.ExitUsage || fe.Hint == "" {
			t.Errorf("%v: err %v, want a usage error with a hint", args, err)
		}
	}
	env, out, _ := testEnv()
	if code := Main([]string{"user"}, env); code != 0 || out.Len() == 0 {
		t.Errorf("pfwdctl user: exit %d, want its help and 0", code)
	}
}

// A command given the wrong number of arguments says what to give, with an
// example, never cobra's bare "accepts 1 arg(s), received 0".
func TestArgCountErrorsSayWhatToGive(t *testing.T) {
	for _, args := range [][]string{{"add-key"}, {"revoke"}, {"revoke", "a", "b"}, {"ca", "revoke", "a", "b"}, {"rotate"}, {"friend"}} {
		env, _, errb := testEnv()
		if code := Main(args, env); code != 2 || strings.Contains(errb.String(), "accepts") || strings.Contains(errb.String(), "received") || !strings.Contains(errb.String(), "hint:") {
			t.Errorf("%v: exit %d\n%s", args, code, errb)
		}
	}
}

// "pfwdctl bogus --help" printed the root help and exited 0: a typo looked
// like success. An unknown command is a usage error with or without
// --help; help for real commands (and flags with values before them) works.
func TestUnknownCommandWithHelpIsAnError(t *testing.T) {
	for _, args := range [][]string{{"bogus", "--help"}, {"user", "bogus", "-h"}, {"--root", "/tmp", "bogus", "--help"}, {"man", "--help"}} {
		env, out, errb := testEnv()
		if code := Main(args, env); code != 2 || !strings.Contains(errb.String(), "unknown command") || out.Len() != 0 {
			t.Errorf("%v: exit %d\n%s%s", args, code, out, errb)
		}
	}
	for _, args := range [][]string{{"--help"}, {"-h"}, {"add-key", "--help"}, {"--root", "/tmp", "user", "--help"}, {"--json", "--help"}, {"help", "add-key"}} {
		env, out, errb := testEnv()
		if code := Main(args, env); code != 0 || out.Len() == 0 {
			t.Errorf("%v: exit %d\n%s%s", args, code, out, errb)
		}
	}
}
