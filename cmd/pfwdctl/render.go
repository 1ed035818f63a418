package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/render"
)

func init() { register("render", newRenderCmd) }

// paramFlags are the flags every command that renders the drop-ins shares.
type paramFlags struct {
	user    string
	targets []string
}

func (p *paramFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&p.user, "user", render.DefaultUser, "the port-forward-only `account`")
	c.Flags().StringArrayVar(&p.targets, "target", nil, "a `host:port` the account may forward to (repeatable; default "+render.DefaultTarget+")")
}

func (p *paramFlags) params() (render.Params, error) { return render.NewParams(p.user, p.targets) }

type renderOpts struct {
	paramFlags
	out string
}

func newRenderCmd(g *Globals) *cobra.Command {
	o := &renderOpts{}
	c := &cobra.Command{
		Use:   "render",
		Short: "Print the two sshd drop-ins (or write them into a directory)",
		Long: `render prints 10-hardening.conf (the hardening baseline) and
20-USER-only.conf (the account's Match User block; 20-pfwd-only.conf for pfwd)
to stdout, each after a header line, or writes them into --out DIR. It never touches /etc/ssh: use apply for that.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return renderRun(g, o) },
	}
	o.register(c)
	c.Flags().StringVar(&o.out, "out", "", "write the files into `DIR` instead of printing them")
	return c
}

func renderRun(g *Globals, o *renderOpts) error {
	p, err := o.params()
	if err != nil {
		return err
	}
	files, err := render.Render(p)
	if err != nil {
		return err
	}
	if o.out != "" {
		if err := os.MkdirAll(o.out, 0o755); err != nil {
			return fail.Wrap(fail.Failed, err, "", "create %s", o.out)
		}
		for _, f := range files {
			if err := hostfs.WriteFile(filepath.Join(o.out, f.Name), f.Data, render.DropInMode, hostfs.Owner{UID: -1, GID: -1}); err != nil {
				return fail.Wrap(fail.Failed, err, "", "write %s", f.Name)
			}
		}
	}
	if g.JSON {
		type jf struct {
			Name    string `json:"name"`
			Content string `json:"content"`
		}
		var out []jf
		for _, f := range files {
			out = append(out, jf{f.Name, string(f.Data)})
		}
		return g.PrintJSON(map[string]any{"user": p.User, "targets": p.TargetStrings(), "files": out})
	}
	if o.out != "" {
		for _, f := range files {
			g.Printf("wrote %s\n", filepath.Join(o.out, f.Name))
		}
		return nil
	}
	for i, f := range files {
		if i > 0 {
			g.Printf("\n")
		}
		g.Printf("%s\n%s", g.Styles().Bold(fmt.Sprintf("==> %s <==", f.Name)), f.Data)
	}
	return nil
}
