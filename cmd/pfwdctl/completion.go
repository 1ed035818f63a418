package main

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pfwdctl/pfwdctl/internal/accounts"
	"github.com/pfwdctl/pfwdctl/render"
)

func init() {
	register("completion", newCompletionCmd)
	treeHooks = append(treeHooks, registerCompletions)
}

// newCompletionCmd replaces cobra's default completion command (cobra adds
// its own only when none is there) to offer exactly the shells we test and
// to say where Debian's shells look for the scripts.
func newCompletionCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print the shell completion script for bash, zsh or fish",
		Long: `completion prints a script that teaches your shell pfwdctl's commands and
flags, plus live values: --user completes the forward-only accounts of the
host (or of --root), and revoke completes the account's key names and
fingerprints. The .deb package installs all three scripts.

    pfwdctl completion bash > /etc/bash_completion.d/pfwdctl
    pfwdctl completion zsh > "${fpath[1]}/_pfwdctl"
    pfwdctl completion fish > ~/.config/fish/completions/pfwdctl.fish

For one user's bash only: add  source <(pfwdctl completion bash)  to ~/.bashrc.
The bash script does not need the bash-completion package (without it, only
the ~/.bashrc line is read).`,
		Args:                  cobra.ExactArgs(1),
		ValidArgs:             []string{"bash", "zsh", "fish"},
		DisableFlagsInUseLine: true,
		RunE: func(c *cobra.Command, args []string) error {
			root, out := c.Root(), g.IO.Out
			switch args[0] {
			case "bash":
				if _, err := io.WriteString(out, bashShim); err != nil {
					return err
				}
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, true)
			}
			return usageErr("pfwdctl completion bash (or zsh, fish)", "unknown shell %q", args[0])
		},
	}
}

// bashShim defines the two bash-completion helpers cobra's V2 script still
// calls (_get_comp_words_by_ref, _filedir) when the bash-completion package
// is not loaded, so `source <(pfwdctl completion bash)` works in a plain
// bash (a minimal container, bash --norc). With the package loaded, its own
// functions are kept.
const bashShim = `# Without the bash-completion package: minimal versions of the two
# helpers the script below uses; the package's own win when it is loaded.
if ! declare -F _get_comp_words_by_ref >/dev/null 2>&1; then
_get_comp_words_by_ref() {
    # Words up to the cursor, split at blanks only (like -n =: in
    # bash-completion: "=" and ":" stay inside a word). Sets the caller's
    # cur, prev, words and cword.
    local line=${COMP_LINE:0:COMP_POINT}
    local -a ws
    read -r -a ws <<<"$line"
    if [[ -z $line || $line == *[[:space:]] ]]; then
        ws+=("")
    fi
    words=("${ws[@]}")
    cword=$((${#ws[@]} - 1))
    cur=${ws[cword]}
    prev=""
    if ((cword > 0)); then
        prev=${ws[cword - 1]}
    fi
}
fi
if ! declare -F _filedir >/dev/null 2>&1; then
_filedir() {
    # _filedir [-d | EXT|EXT|...]: directories, or files (ending in one
    # of the extensions) and directories, for $cur.
    local IFS=$'\n' ext=${1%|}
    local -a found
    if [[ $1 == -d ]]; then
        found=($(compgen -d -- "$cur"))
    elif [[ -n $ext ]]; then
        local restore
        restore=$(shopt -p extglob)
        shopt -s extglob
        found=($(compgen -f -X "!*.@($ext)" -- "$cur") $(compgen -d -- "$cur"))
        eval "$restore"
    else
        found=($(compgen -f -- "$cur"))
    fi
    COMPREPLY+=("${found[@]}")
    if [[ $(type -t compopt) == builtin ]]; then
        compopt -o filenames 2>/dev/null
    fi
}
fi

`

// registerCompletions gives every --user flag in the tree the accounts of
// --root as completions. It runs after the tree is built (a treeHook), so
// a command file only has to name its flag --user.
func registerCompletions(root *cobra.Command, g *Globals) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.LocalNonPersistentFlags().Lookup("user") != nil {
			if _, ok := c.GetFlagCompletionFunc("user"); !ok {
				_ = c.RegisterFlagCompletionFunc("user", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
					return completeAccounts(g), cobra.ShellCompDirectiveNoFileComp
				})
			}
		}
		if c.Name() == "revoke" && c.Parent() == root && c.ValidArgsFunction == nil {
			c.ValidArgsFunction = func(c *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
				if len(args) > 0 {
					return nil, cobra.ShellCompDirectiveNoFileComp
				}
				user, _ := c.Flags().GetString("user")
				return completeKeys(g, user), cobra.ShellCompDirectiveNoFileComp
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// completeKeys offers revoke's argument: each key's name (once, however
// many keys share it) and each fingerprint, described by the other.
func completeKeys(g *Globals, user string) []cobra.Completion {
	if user == "" {
		user = render.DefaultUser
	}
	list, err := usersHost(g).ListKeys(user)
	if err != nil {
		return nil
	}
	var out []cobra.Completion
	names := map[string]int{}
	for _, k := range list.Keys {
		if k.Name != "" {
			names[k.Name]++
		}
	}
	for _, k := range list.Keys {
		if n := names[k.Name]; n > 0 {
			desc := k.Type + " " + k.Fingerprint
			if n > 1 {
				desc = fmt.Sprintf("%d keys: needs --all", n)
			}
			out = append(out, cobra.CompletionWithDesc(k.Name, desc))
			names[k.Name] = 0
		}
		out = append(out, cobra.CompletionWithDesc(k.Fingerprint, nameOr(k.Name)+", "+k.Type))
	}
	return out
}

// completeAccounts lists the accounts that look forward-only: a shell that
// refuses logins and a regular UID, a home under /home or an
// authorized_keys file (an account made by useradd --system has a low UID,
// while daemons' accounts have neither keys nor a home under /home). When there is
// none yet (before user create), it offers every regular account and the
// default name. Errors are swallowed: a completion must never print one.
func completeAccounts(g *Globals) []cobra.Completion {
	accts, err := accounts.ReadPasswd(g.Root())
	if err != nil {
		return nil
	}
	var fwd, regular []cobra.Completion
	for _, a := range accts {
		if a.UID == 0 {
			continue
		}
		isRegular := a.UID >= 1000 && a.UID < 60000
		if accounts.NoLoginShell(a.Shell) && (isRegular || strings.HasPrefix(a.Home, "/home/") || hasKeys(g, a.Home)) {
			fwd = append(fwd, cobra.CompletionWithDesc(a.Name, fmt.Sprintf("no shell, uid %d", a.UID)))
		} else if isRegular {
			regular = append(regular, cobra.CompletionWithDesc(a.Name, fmt.Sprintf("%s, uid %d", filepath.Base(a.Shell), a.UID)))
		}
	}
	if len(fwd) > 0 {
		return fwd
	}
	out := append([]cobra.Completion{cobra.CompletionWithDesc(render.DefaultUser, "the default account")}, regular...)
	sort.Strings(out[1:])
	return out
}

func hasKeys(g *Globals, home string) bool {
	if home == "" || home == "/" {
		return false
	}
	_, err := g.Root().Stat(filepath.Join(home, ".ssh/authorized_keys"))
	return err == nil
}
