package main

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/ui"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/users"
	"github.com/pfwdctl/pfwdctl/users/keyline"
)

type listKeysOpts struct {
	user, expiring string
	sshdFlags
}

func newListKeysCmd(g *Globals) *cobra.Command {
	o := &listKeysOpts{}
	c := &cobra.Command{
		Use:   "list-keys",
		Short: "List the account's keys, flagging any that are not restricted",
		Long: `list-keys prints one row per key in the account's authorized_keys: name,
type and size, SHA256 fingerprint, forward targets, expiry (EXPIRED once
past) and from. A line without the restrict prefix, or one that allows more
than the Match block's PermitOpen, is flagged as UNRESTRICTED, and the
command exits 1 so scripts notice. A key that expires within 7 days gets a
warning line, so its rotation (pfwdctl rotate) can be planned; --expiring
WINDOW lists only the keys that still work but expire within WINDOW.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return listKeysRun(c, g, o) },
	}
	c.Flags().StringVar(&o.user, "user", render.DefaultUser, "the port-forward-only `account`")
	c.Flags().StringVar(&o.expiring, "expiring", "", "list only the keys that still work but expire within `WINDOW` (7d, 48h, 2w; as add-key --expires takes)")
	o.sshdFlags.add(c)
	return c
}

func listKeysRun(c *cobra.Command, g *Globals, o *listKeysOpts) error {
	var window time.Duration
	if o.expiring != "" {
		w, err := keyline.ParseWindow(o.expiring)
		if err != nil {
			return fail.Wrap(fail.Usage, err, "use a duration such as 7d, 48h or 2w", "--expiring")
		}
		window = w
	}
	h := o.host(g)
	names, err := forwardAccounts(c, g, o.user, o.config)
	if err != nil {
		return err
	}
	var results []users.ListResult
	total := 0
	for _, name := range names {
		res, err := h.ListKeys(name)
		if err != nil {
			return err
		}
		if window > 0 {
			res = res.Expiring(g.Now(), window)
		}
		results = append(results, res)
		if res.Person == "" {
			total += res.Unrestricted
		}
	}
	unrestricted := fail.New(fail.Failed, "revoke them (pfwdctl revoke FINGERPRINT) and add them again with pfwdctl add-key",
		"%d key(s) are UNRESTRICTED", total)
	if len(results) == 1 {
		unrestricted = fail.New(fail.Failed, "revoke them (pfwdctl revoke FINGERPRINT) and add them again with pfwdctl add-key",
			"%d key(s) of %s are UNRESTRICTED", total, results[0].Account)
	}
	if g.JSON {
		// One account: its result, as always; several: one per account.
		var doc any = results
		if len(results) == 1 {
			doc = results[0]
		}
		if err := g.PrintJSON(doc); err != nil {
			return err
		}
	} else {
		for i, res := range results {
			if len(results) > 1 {
				if i > 0 {
					g.Printf("\n")
				}
				g.Printf("%s %s\n", g.Styles().Bold(ui.Escape(res.Account)), ui.Escape(res.Path))
			}
			if window > 0 && len(res.Keys) == 0 {
				g.Printf("no key in %s expires within %s\n", ui.Escape(res.Path), o.expiring)
				continue
			}
			printKeys(g, res)
		}
	}
	if total > 0 {
		return unrestricted
	}
	return nil
}

// skName is a FIDO key type as ssh-keygen -t names it (a switch, not a
// map: package main allocates nothing at init, TestStartupInitsNothingHeavy).
func skName(typ string) (string, bool) {
	switch typ {
	case "sk-ssh-ed25519@openssh.com":
		return "ed25519-sk", true
	case "sk-ecdsa-sha2-nistp256@openssh.com":
		return "ecdsa-sk", true
	}
	return "", false
}

// hardwareNote is what the TYPE cell says of a hardware-backed key: that
// it is one, its FIDO application, and what its line asks of the token.
func hardwareNote(k users.KeyInfo) string {
	if !k.HardwareBacked {
		return ""
	}
	var what []string
	if k.Application != "" {
		what = append(what, k.Application)
	}
	if k.VerifyRequired {
		what = append(what, "verify-required")
	}
	if k.NoTouchRequired {
		what = append(what, "no-touch-required")
	}
	if len(what) == 0 {
		return " hardware-backed"
	}
	return " hardware-backed (" + strings.Join(what, ", ") + ")"
}

// printKeys is one account's table and the problems under it.
func printKeys(g *Globals, res users.ListResult) {
	defer printDormant(g, res.Dormant) // jit.go
	st := g.Styles()
	if res.HardwareKeysOnly {
		what := "a touch on the token"
		if res.RequireVerify {
			what += " and its PIN or biometric"
		}
		g.Printf("%s takes hardware-backed (FIDO) keys only, with %s at every login\n", ui.Escape(res.Account), what)
	}
	if res.Person != "" {
		g.Printf("%s %s has the login shell %s: a person's account, not a port-forward-only one; its keys are listed, not judged (pfwdctl does not revoke them)\n",
			st.Warn("!"), ui.Escape(res.Account), ui.Escape(res.Person))
	}
	if len(res.Keys) == 0 {
		g.Printf("no keys in %s\n", ui.Escape(res.Path))
		return
	}
	// The table as text/tabwriter (padding 2) lays it out, in two passes
	// over the rows instead: tabwriter keeps a copy of every cell and line
	// (about 8 MB for 10,000 keys), and this runs for the largest files.
	rows := make([][]string, 0, len(res.Keys)+1)
	rows = append(rows, []string{"NAME", "TYPE", "FINGERPRINT", "TARGETS", "EXPIRES", "FROM"})
	for _, k := range res.Keys {
		typ := strings.TrimPrefix(k.Type, "ssh-")
		if short, ok := skName(k.Type); ok {
			typ = short // as ssh-keygen -t names them
		}
		if k.Bits > 0 {
			typ += " " + strconv.Itoa(k.Bits)
		}
		typ += hardwareNote(k)
		exp := "never"
		if !k.Expiry.IsZero() {
			exp = users.FormatTime(k.Expiry)
			if k.Expired {
				exp += " EXPIRED"
			}
		}
		name := k.Name
		if name == "" {
			name = "-"
		}
		targets := strings.Join(k.Targets, ",")
		if targets == "" {
			targets = "-"
		}
		from := strings.Join(k.From, ",")
		if from == "" {
			from = "any"
		}
		// Names, targets and from= come from the file as written, by
		// anyone who could write it: escaped, one cell each.
		cells := []string{name, typ, k.Fingerprint, targets, exp, from}
		for i, c := range cells {
			cells[i] = ui.Escape(c)
		}
		rows = append(rows, cells)
	}
	writeColumns(g.IO.Out, rows, 2)
	for _, k := range res.Keys {
		where := fmt.Sprintf("line %d", k.Line)
		if k.File != "" {
			where = fmt.Sprintf("%s line %d", ui.Escape(k.File), k.Line)
		}
		if k.Copies || k.File != "" || (res.HardwareKeysOnly && !k.HardwareBacked) {
			g.Printf("%s %s (%s): %s\n", st.Warn("!"), where, k.Fingerprint, ui.Escape(strings.Join(k.Warnings, "; ")))
		}
		if k.ExpiresSoon && k.Granted {
			// A just-in-time window ending is the point, not a key to rotate.
			g.Printf("%s %s (%s): just-in-time grant, ends %s; the key goes dormant again then\n", st.Dim("·"), where, k.Fingerprint, users.FormatTime(k.Expiry))
		} else if k.ExpiresSoon {
			// By fingerprint: a name is the key's comment, free text that
			// pasted into a shell could run something, or match two keys.
			sel := k.Fingerprint
			g.Printf("%s %s (%s): expires %s, within 7 days: plan its rotation (pfwdctl rotate --user %s %s NEW.pub)\n", st.Warn("!"), where, k.Fingerprint,
				users.FormatTime(k.Expiry), ui.Escape(res.Account), ui.Escape(sel))
		}
		if !k.Restricted && res.Person == "" {
			g.Printf("%s %s (%s): UNRESTRICTED: %s\n", st.Fail("✗"), where, k.Fingerprint, ui.Escape(strings.Join(k.Problems, "; ")))
		}
	}
}

// writeColumns writes rows of equal length as text/tabwriter.NewWriter(w,
// 0, 0, pad, ' ', 0) does for cells joined by tabs: every cell but a row's
// last is padded with spaces to its column's widest cell (in runes) plus
// pad. Buffered: one
// write(2) per 64 kB, not one per cell.
func writeColumns(w io.Writer, rows [][]string, pad int) {
	var width []int
	for _, r := range rows {
		for i, c := range r[:max(len(r)-1, 0)] {
			if i == len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], utf8.RuneCountInString(c)+pad)
		}
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	for _, r := range rows {
		for i, c := range r {
			bw.WriteString(c)
			if i < len(r)-1 {
				for n := utf8.RuneCountInString(c); n < width[i]; n++ {
					bw.WriteByte(' ')
				}
			}
		}
		bw.WriteByte('\n')
	}
	bw.Flush()
}
