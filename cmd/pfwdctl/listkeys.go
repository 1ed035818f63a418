package main

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/ui"
	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/users"
)

func init() { register("list-keys", newListKeysCmd) }

type listKeysOpts struct {
	user string
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
command exits 1 so scripts notice.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return listKeysRun(c, g, o) },
	}
	c.Flags().StringVar(&o.user, "user", render.DefaultUser, "the port-forward-only `account`")
	o.sshdFlags.add(c)
	return c
}

func listKeysRun(c *cobra.Command, g *Globals, o *listKeysOpts) error {
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
		results = append(results, res)
		total += res.Unrestricted
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
			printKeys(g, res)
		}
	}
	if total > 0 {
		return unrestricted
	}
	return nil
}

// printKeys is one account's table and the problems under it.
func printKeys(g *Globals, res users.ListResult) {
	st := g.Styles()
	if len(res.Keys) == 0 {
		g.Printf("no keys in %s\n", ui.Escape(res.Path))
		return
	}
	// Buffered: tabwriter writes each cell on its own, one write(2) per
	// cell on an unbuffered stdout (list-keys of 10,000 keys made ~120,000).
	bw := bufio.NewWriter(g.IO.Out)
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	tw.Write([]byte("NAME\tTYPE\tFINGERPRINT\tTARGETS\tEXPIRES\tFROM\n"))
	for _, k := range res.Keys {
		typ := strings.TrimPrefix(k.Type, "ssh-")
		if k.Bits > 0 {
			typ += " " + strconv.Itoa(k.Bits)
		}
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
		tw.Write([]byte(strings.Join(cells, "\t") + "\n"))
	}
	tw.Flush()
	bw.Flush()
	for _, k := range res.Keys {
		where := fmt.Sprintf("line %d", k.Line)
		if k.File != "" {
			where = fmt.Sprintf("%s line %d", ui.Escape(k.File), k.Line)
		}
		if k.Copies || k.File != "" {
			g.Printf("%s %s (%s): %s\n", st.Warn("!"), where, k.Fingerprint, ui.Escape(strings.Join(k.Warnings, "; ")))
		}
		if !k.Restricted {
			g.Printf("%s %s (%s): UNRESTRICTED: %s\n", st.Fail("✗"), where, k.Fingerprint, ui.Escape(strings.Join(k.Problems, "; ")))
		}
	}
}
