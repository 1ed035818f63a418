package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/run"
	"github.com/pfwdctl/pfwdctl/internal/ui"
)

// Set by the linker: -X main.version=... -X main.commit=...
var (
	version = "dev"
	commit  = ""
)

// IO is a command's streams. No command writes to os.Stdout directly.
type IO struct {
	In    io.Reader
	Out   io.Writer
	Err   io.Writer
	IsTTY bool // stdout is a terminal
	InTTY bool // stdin is a terminal
}

// Env is everything a command takes from the outside world, injected so
// each command can be tested without a real terminal or real programs.
type Env struct {
	IO     IO
	Runner run.Runner
	Getenv func(string) string
	Now    func() time.Time
	// Geteuid is who pfwdctl runs as; nil: hostfs.Euid (the process's).
	Geteuid func() int
	// AuditLog is where users' changes are recorded; empty: auditlog.Path
	// under --root. Only tests that drive the running host set it, so the
	// host's own log is never written by them.
	AuditLog string
	// JITRoot, when set, is where the just-in-time files (spool,
	// decisions, settings, hooks) are, instead of under --root. Only the
	// end-to-end test that drives the running host's sshd and accounts sets
	// it, so the host's /var/lib/pfwdctl and /etc/pfwdctl are never written.
	JITRoot *hostfs.Root
	// LoginUID is the kernel's login uid of the process (jit.LoginUID),
	// whom approve names as the approver; nil: jit.LoginUID.
	LoginUID func() (int, bool)
}

// SystemEnv is the real process environment.
func SystemEnv() *Env {
	return &Env{
		IO: IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr,
			IsTTY: term.IsTerminal(int(os.Stdout.Fd())),
			InTTY: term.IsTerminal(int(os.Stdin.Fd()))},
		Runner:  run.Exec{},
		Getenv:  os.Getenv,
		Now:     time.Now,
		Geteuid: hostfs.Euid,
	}
}

func (e *Env) euid() int {
	if e.Geteuid != nil {
		return e.Geteuid()
	}
	return hostfs.Euid()
}

// Globals are the persistent flags plus the env.
type Globals struct {
	*Env
	// RootDir is --root, made absolute when the flag is parsed (rootFlag).
	RootDir hostfs.Root
	JSON    bool
	// printed is set once a command wrote its --json result, so an error
	// after that does not print a second JSON document.
	printed bool
	// args is the command line as given, for the "sudo pfwdctl ..." hint.
	args []string
}

// Root is the --root prefix.
func (g *Globals) Root() hostfs.Root { return g.RootDir }

// rootFlag is --root. It turns the directory into a hostfs.Root as the flag
// is parsed, so a relative --root is absolute before any command sees it and
// behaves exactly like the absolute one.
type rootFlag struct{ r *hostfs.Root }

func (f rootFlag) String() string { return f.r.Dir() }
func (f rootFlag) Type() string   { return "string" }
func (f rootFlag) Set(dir string) error {
	r, err := hostfs.NewRoot(dir)
	if err != nil {
		return err
	}
	*f.r = r
	return nil
}

// Styles returns lipgloss styles for stdout: colour only on a terminal
// without NO_COLOR.
func (g *Globals) Styles() ui.Styles {
	return ui.New(g.IO.IsTTY && g.Getenv("NO_COLOR") == "" && g.Getenv("TERM") != "dumb")
}

// PrintJSON writes v as indented JSON to stdout.
func (g *Globals) PrintJSON(v any) error {
	enc := json.NewEncoder(g.IO.Out)
	enc.SetIndent("", "  ")
	g.printed = true
	return enc.Encode(v)
}

// PrintJSONLine writes v as one line of JSON (a stream of events).
func (g *Globals) PrintJSONLine(v any) error {
	g.printed = true
	return json.NewEncoder(g.IO.Out).Encode(v)
}

// Printf writes to stdout.
func (g *Globals) Printf(format string, args ...any) {
	fmt.Fprintf(g.IO.Out, format, args...)
}

func versionString() string {
	c := commit
	if c == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" && len(s.Value) >= 12 {
					c = s.Value[:12]
				}
			}
		}
	}
	if c == "" {
		c = "unknown"
	}
	return fmt.Sprintf("%s (commit %s)", version, c)
}

// NewRootCmd builds the command tree over env.
func NewRootCmd(g *Globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "pfwdctl",
		Short: "Harden sshd and keep a port-forward-only account, and prove it",
		Long: `pfwdctl hardens sshd with two drop-ins, keeps a locked account that can
only forward to one local service, and proves both with a real SSH client.`,
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(g.IO.In)
	root.SetOut(g.IO.Out)
	root.SetErr(g.IO.Err)
	root.SetVersionTemplate("pfwdctl {{.Version}}\n")
	root.PersistentFlags().Var(rootFlag{&g.RootDir}, "root", "treat `DIR` as / for every host path read or written (like rpm --root)")
	root.PersistentFlags().BoolVar(&g.JSON, "json", false, "print a JSON report on stdout instead of text")
	root.PersistentPreRunE = func(c *cobra.Command, _ []string) error { return checkRoot(c, g) }
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &fail.Error{Kind: fail.Usage, Err: err, Hint: "see: " + c.CommandPath() + " --help"}
	})
	for _, c := range reached(root, g.args) {
		root.AddCommand(c.build(g))
	}
	for _, hook := range treeHooks {
		hook(root, g)
	}
	typeArgErrors(root)
	return root
}

// typeArgErrors makes cobra's own argument errors (unknown command, wrong
// number of args) usage errors in internal/fail's table, the way
// SetFlagErrorFunc does for flag errors, so no exit code is decided by
// reading cobra's messages. A command that only groups others (pfwdctl,
// user) gets a RunE: without one, cobra prints help and exits 0 for
// "pfwdctl user bogus", and reports "pfwdctl bogus" as a plain error.
func typeArgErrors(c *cobra.Command) {
	if c.HasSubCommands() && !c.Runnable() {
		c.SuggestionsMinimumDistance = 2 // cobra's own default, which SuggestionsFor does not apply
		c.Args = func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
				if s := c.SuggestionsFor(args[0]); len(s) > 0 {
					msg += "; did you mean " + strings.Join(s, " or ") + "?"
				}
				return errors.New(msg)
			}
			return nil
		}
		c.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	}
	if orig := c.Args; orig != nil {
		c.Args = func(c *cobra.Command, args []string) error {
			if err := orig(c, args); err != nil {
				// A command's own typed error already says what to give.
				var fe *fail.Error
				if errors.As(err, &fe) {
					return err
				}
				return &fail.Error{Kind: fail.Usage, Err: err, Hint: "see: " + c.CommandPath() + " --help"}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		typeArgErrors(sub)
	}
}

// treeHooks run once every command is in the tree, in order, for a file
// that extends commands it does not own (completion.go registers
// completions for every --user flag) without editing their files.
var treeHooks = []func(root *cobra.Command, g *Globals){
	registerCompletions,
	func(root *cobra.Command, _ *Globals) { setExamples(root) },
	jitExtend,
}

// command is one top-level command: the name it is called by (the first
// word of its Use) and what builds it.
type command struct {
	name  string
	build func(*Globals) *cobra.Command
}

// commands are the top-level commands, each built by a constructor in its
// own file (help lists them sorted by name). A literal, not appended from
// each file's init: start-up allocates nothing for it
// (TestStartupInitsNothingHeavy).
var commands = []command{
	{"approve", newApproveCmd}, {"deny", newDenyCmd}, {"grant", newGrantCmd},
	{"request", newRequestCmd}, {"requests", newRequestsCmd},
	{"add-key", newAddKeyCmd}, {"apply", newApplyCmd}, {"audit", newAuditCmd}, {"ca", newCaCmd},
	{"completion", newCompletionCmd}, {"friend", newFriendCmd}, {"lab", newLabCmd},
	{"list-keys", newListKeysCmd}, {"prune", newPruneCmd}, {"remove", newRemoveCmd},
	{"render", newRenderCmd}, {"revoke", newRevokeCmd}, {"rotate", newRotateCmd},
	{"sessions", newSessionsCmd}, {"user", newUserCmd}, {"verify", newVerifyCmd}, {"wizard", newWizardCmd},
}

// reached returns the top-level commands the tree needs for args: only the
// one args name, or none for a bare --version, so a command pays for
// building its own flags alone. Building every command's flag sets was
// most of what pfwdctl --version did after the runtime and package inits
// (about 170 kB of allocations and 100 page faults; bench/startup.sh).
// Which command args name is decided by cobra's own Find over stand-ins
// with the same names under the real root (its flags included), so
// "--root DIR add-key" and "--json add-key" reach add-key exactly as the
// full tree would. Everything else gets the whole tree: help (the list of
// commands), an unknown command (its suggestions), completion (its
// scripts and __complete walk the tree), and nil args (tests, man pages).
func reached(root *cobra.Command, args []string) []command {
	if args == nil {
		return commands
	}
	if versionOnly(args) {
		return nil
	}
	stand := make([]*cobra.Command, len(commands))
	for i, c := range commands {
		stand[i] = &cobra.Command{Use: c.name, Run: func(*cobra.Command, []string) {}}
	}
	root.AddCommand(stand...)
	found, _, _ := root.Find(args)
	root.RemoveCommand(stand...)
	if found == nil || found == root || found.Name() == "completion" {
		return commands
	}
	for _, c := range commands {
		if c.name == found.Name() {
			return []command{c}
		}
	}
	return commands
}

// versionOnly says args ask for the version and nothing else.
func versionOnly(args []string) bool {
	for _, a := range args {
		if a != "--version" && a != "-v" {
			return false
		}
	}
	return len(args) > 0
}

// Main runs pfwdctl with args and returns the exit code.
func Main(args []string, env *Env) int {
	// SIGHUP (the terminal or SSH session closing) interrupts like Ctrl-C,
	// so a change is rolled back, not left half-done; unless the run was
	// started ignoring it (nohup), which Notify would otherwise undo.
	sigs := []os.Signal{os.Interrupt, syscall.SIGTERM}
	if !signal.Ignored(syscall.SIGHUP) {
		sigs = append(sigs, syscall.SIGHUP)
	}
	ctx, stop := signal.NotifyContext(context.Background(), sigs...)
	defer stop()
	return mainContext(ctx, args, env)
}

// mainContext is Main under a context that an interrupt cancels.
func mainContext(ctx context.Context, args []string, env *Env) int {
	g := &Globals{Env: env, args: args}
	root := NewRootCmd(g)
	root.SetArgs(args)
	err := unknownWithHelp(root, args)
	if err == nil {
		err = root.ExecuteContext(ctx)
	}
	if err == nil {
		return fail.ExitOK
	}
	if ctx.Err() != nil {
		// Whatever the error says, the run was interrupted: that decides
		// the exit code (in internal/fail, like every other).
		err = &fail.Error{Kind: fail.Interrupted, Err: err}
	}
	code := fail.Code(err)
	if ctx.Err() != nil {
		fmt.Fprintln(env.IO.Err, "pfwdctl: interrupted")
		// An interrupt can land after something changed (apply's rollback
		// failing, a reload not done): that error and its hint still say
		// what state the host is in, so only a bare cancellation is quiet.
		if errors.Is(err, context.Canceled) && fail.HintOf(err) == "" {
			if g.JSON && !g.printed {
				g.PrintJSON(map[string]any{"error": "interrupted", "hint": "", "exit_code": code})
			}
			return code
		}
	}
	hint := fail.HintOf(err)
	if g.JSON && !g.printed {
		g.PrintJSON(map[string]any{"error": err.Error(), "hint": hint, "exit_code": code})
	}
	// Errors quote input (file names, key lines, flags): escaped, so
	// quoting a hostile comment cannot drive the terminal.
	fmt.Fprintf(env.IO.Err, "pfwdctl: error: %s\n", ui.EscapeText(err.Error()))
	if hint != "" {
		fmt.Fprintf(env.IO.Err, "pfwdctl: hint: %s\n", ui.EscapeText(hint))
	}
	return code
}

// unknownWithHelp refuses "pfwdctl bogus --help" (and "pfwdctl user
// bogus -h"): cobra answers the help flag before it looks at the words,
// printing the parent's help with exit 0, so a typo looked like success.
func unknownWithHelp(root *cobra.Command, args []string) error {
	if !slices.Contains(args, "--help") && !slices.Contains(args, "-h") || len(args) > 0 && strings.HasPrefix(args[0], "__complete") {
		return nil // completion asks cobra's hidden commands, added at Execute
	}
	c, rest, err := root.Find(args)
	if err != nil || !c.HasSubCommands() {
		return nil
	}
	// The first word left that is neither a flag nor a flag's value.
	word := ""
	for i := 0; i < len(rest) && word == ""; i++ {
		a := rest[i]
		switch {
		case a == "--":
			i = len(rest)
		case strings.HasPrefix(a, "-"):
			name := strings.TrimLeft(a, "-")
			if strings.Contains(name, "=") {
				continue
			}
			f := c.Flags().Lookup(name)
			if f == nil && len(name) == 1 {
				f = c.Flags().ShorthandLookup(name)
			}
			if f != nil && f.NoOptDefVal == "" && f.Value.Type() != "bool" {
				i++ // its value
			}
		default:
			word = a
		}
	}
	if word == "" || word == "help" { // cobra's own help command
		return nil
	}
	hint := "see: " + c.CommandPath() + " --help"
	if s := c.SuggestionsFor(word); len(s) > 0 {
		hint = "did you mean " + strings.Join(s, " or ") + "? (" + hint + ")"
	}
	return usageErr(hint, "unknown command %q for %q", word, c.CommandPath())
}

// usageErr is a bad-invocation error with a hint.
func usageErr(hint, format string, args ...any) error {
	return fail.New(fail.Usage, hint, format, args...)
}

// needsRoot says, for each command (its path below pfwdctl), whether it
// must run as root on the running system. Run as another user, such a
// command would read too little and answer falsely ("no account pfwd",
// "cannot take the lock"), so it refuses before doing anything. Under
// --root DIR (tests, image builds) nothing needs root. Every command is
// listed (TestEveryCommandSaysIfItNeedsRoot), so a new one has to decide.
var needsRoot = map[string]func(c *cobra.Command) bool{
	"apply":     always,
	"audit":     always,
	"add-key":   always,
	"list-keys": always,
	"revoke":    always,
	"prune":     always,
	"rotate":    always,
	// friend reads the account's keys and asks sshd -T for its ports and
	// host keys; remove rewrites sshd's config and may delete an account.
	"friend":      always,
	"remove":      always,
	"user create": always,
	// sessions reads the account's processes' sockets and sshd's log,
	// and kill signals sshd: root's.
	"sessions":      always,
	"sessions kill": always,
	"wizard":        always,
	// verify proves a server from outside as any user; only --self
	// installs a key for the account.
	"verify": func(c *cobra.Command) bool {
		f := c.Flags().Lookup("self")
		return f != nil && f.Value.String() == "true"
	},
	// ca init makes a key pair anywhere (the admin's machine); the rest
	// keep the serial counter, the audit log and the KRL on the server.
	"ca":         never,
	"ca init":    never,
	"ca sign":    always,
	"ca revoke":  always,
	"ca list":    always,
	"render":     never,
	"lab":        never,
	"completion": never,
	"user":       never,

	// request is filed by operators (the JIT group), not root; requests
	// is read by both. Deciding, and installing keys, is root's.
	"request":  never,
	"requests": never,
	"approve":  always,
	"deny":     always,
	"grant":    always,
}

func always(*cobra.Command) bool { return true }
func never(*cobra.Command) bool  { return false }

// checkRoot refuses a command that needs root when pfwdctl is not root.
func checkRoot(c *cobra.Command, g *Globals) error {
	need := needsRoot[strings.TrimPrefix(c.CommandPath(), "pfwdctl ")]
	if need == nil || !need(c) || !g.Root().IsHost() || g.euid() == 0 {
		return nil
	}
	return fail.New(fail.Usage, "sudo "+shellLine(append([]string{"pfwdctl"}, g.args...)),
		"%s must run as root", strings.TrimPrefix(c.CommandPath(), "pfwdctl "))
}

// shellLine quotes args for a command line the admin can paste.
func shellLine(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:=@,+%") == "" {
			q[i] = a
			continue
		}
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
