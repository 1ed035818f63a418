package main

import (
	"github.com/spf13/cobra"

	"github.com/pfwdctl/pfwdctl/render"
)

// forwardAccounts is the forward-only accounts a read-only command covers:
// the one --user names, or else every account pfwdctl installed a Match
// drop-in for (the default account when there is none), so a host with
// pfwd and metrics is checked whole by a plain audit or list-keys.
func forwardAccounts(c *cobra.Command, g *Globals, user, sshdConfig string) ([]string, error) {
	if c.Flags().Changed("user") {
		return []string{user}, nil
	}
	inst, err := render.InstalledAccounts(g.Root(), sshdConfig)
	if err != nil {
		return nil, err
	}
	if len(inst) == 0 {
		return []string{user}, nil
	}
	var names []string
	for _, a := range inst {
		names = append(names, a.User)
	}
	return names, nil
}
