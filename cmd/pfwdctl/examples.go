package main

import "github.com/spf13/cobra"

// examples are the EXAMPLES of --help and of the man pages (one source for
// both), for commands that do not set their own.
var examples = map[string]string{
	"pfwdctl render": `  pfwdctl render
  pfwdctl render --user pfwd --target 127.0.0.1:8009 --out /tmp/dropins`,
	"pfwdctl apply": `  sudo pfwdctl apply --dry-run          # the diff, and the exit code the real run would give
  sudo pfwdctl apply --target 127.0.0.1:8009
  sudo pfwdctl apply --crypto            # also the crypto drop-in`,
	"pfwdctl user create": `  sudo pfwdctl user create --user pfwd`,
	"pfwdctl add-key": `  sudo pfwdctl add-key friend.pub --name alice --expires 30d
  cat friend.pub | sudo pfwdctl add-key - --from 203.0.113.7
  sudo pfwdctl add-key new-laptop.pub --name alice --replace   # alice's new key instead of her old one`,
	"pfwdctl list-keys": `  sudo pfwdctl list-keys --user pfwd
  sudo pfwdctl list-keys --json | jq '.keys[] | select(.restricted | not)'`,
	"pfwdctl revoke": `  sudo pfwdctl revoke alice
  sudo pfwdctl revoke SHA256:... --kill-sessions`,
	"pfwdctl prune": `  sudo pfwdctl prune --user pfwd`,
	"pfwdctl audit": `  sudo pfwdctl audit
  sudo pfwdctl audit --layers --json`,
	"pfwdctl wizard": `  sudo pfwdctl wizard`,
	"pfwdctl completion": `  pfwdctl completion bash > /etc/bash_completion.d/pfwdctl
  source <(pfwdctl completion bash)     # this shell only; no bash-completion package needed`,
}

func setExamples(c *cobra.Command) {
	if c.Example == "" {
		c.Example = examples[c.CommandPath()]
	}
	for _, sub := range c.Commands() {
		setExamples(sub)
	}
}
