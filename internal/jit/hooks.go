package jit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/run"
)

// HookTimeout bounds each hook: a hung hook must not hold up a decision
// (hooks run after it is made, and after pfwdctl's lock is released).
const HookTimeout = 30 * time.Second

// HookEnv is a hook's whole environment (besides PFWDCTL_EVENT and
// PFWDCTL_REQUEST): never the caller's, which under sudo or an operator's
// login could steer the hook (LD_PRELOAD, PATH, IFS).
var HookEnv = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}

// Event is what a hook reads on stdin, as JSON.
type Event struct {
	// Event is request, approve, deny or expire.
	Event     string    `json:"event"`
	Time      time.Time `json:"time"`
	Host      string    `json:"host,omitempty"`
	ID        string    `json:"id"`
	Request   Request   `json:"request"`
	Requester Person    `json:"requester"`
	// Decision is set for every event but request.
	Decision *Decision `json:"decision,omitempty"`
}

// HookResult is one hook's run.
type HookResult struct {
	Hook     string `json:"hook"`
	OK       bool   `json:"ok"`
	ExitCode int    `json:"exit_code,omitempty"`
	Stderr   string `json:"stderr,omitempty"`
	// Error says why the hook failed or was not run.
	Error string `json:"error,omitempty"`
}

// hookNameRE is run-parts' rule: no dot files, no editor backups
// (hook~, hook.bak, hook.dpkg-old) run by accident.
var hookNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`) })

// RunHooks runs every hook in HooksDir under root, in name order, with ev
// as JSON on stdin, through r (which must be a run.InputRunner): argv is
// the hook's path alone, the environment HookEnv. Only a regular file
// owned by root, executable, and writable by root only, in a directory
// that is root's and writable by root only, is run: anything else is
// reported as not run. A failure is reported, never returned: hooks
// inform, they do not decide.
func RunHooks(ctx context.Context, root hostfs.Root, r run.Runner, ev Event) []HookResult {
	dir := root.PathDir(HooksDir)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil // no hooks directory: no hooks
	}
	if err := rootOnly(dir, true); err != nil {
		return []HookResult{{Hook: HooksDir, Error: "no hook run: " + err.Error()}}
	}
	ir, ok := r.(run.InputRunner)
	if r == nil {
		ir, ok = run.Exec{}, true
	}
	data, _ := marshal(ev)
	var names []string
	for _, e := range ents {
		if hookNameRE().MatchString(e.Name()) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var out []HookResult
	for _, n := range names {
		p := filepath.Join(dir, n)
		res := HookResult{Hook: filepath.Join(HooksDir, n)}
		if err := rootOnly(p, false); err != nil {
			res.Error = "not run: " + err.Error()
			out = append(out, res)
			continue
		}
		if !ok {
			res.Error = "not run: this runner cannot give a hook its stdin"
			out = append(out, res)
			continue
		}
		hctx, cancel := context.WithTimeout(ctx, HookTimeout)
		env := append(append([]string{}, HookEnv...), "PFWDCTL_EVENT="+ev.Event, "PFWDCTL_REQUEST="+ev.ID)
		_, stderr, err := ir.RunInput(hctx, data, env, p)
		cancel()
		res.Stderr = clip(strings.TrimSpace(string(stderr)), 2000)
		var ee *exec.ExitError
		switch {
		case err == nil:
			res.OK = true
		case errors.As(err, &ee):
			res.ExitCode = ee.ExitCode()
			res.Error = fmt.Sprintf("exit status %d", ee.ExitCode())
			if hctx.Err() != nil {
				res.Error = "killed after " + HookTimeout.String()
			}
		default:
			res.Error = err.Error()
		}
		out = append(out, res)
	}
	return out
}

// rootOnly refuses a path that someone other than root could have
// written or replaced: not root's, group- or world-writable, a symlink,
// or (for a hook) not a regular executable file.
func rootOnly(p string, dir bool) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return errors.New("a symlink")
	case dir && !fi.IsDir():
		return errors.New("not a directory")
	case !dir && !fi.Mode().IsRegular():
		return errors.New("not a regular file")
	case !ok || st.Uid != 0:
		return errors.New("not owned by root")
	case fi.Mode().Perm()&0o022 != 0:
		return errors.New("writable by group or others")
	case !dir && fi.Mode().Perm()&0o111 == 0:
		return errors.New("not executable")
	}
	return nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
