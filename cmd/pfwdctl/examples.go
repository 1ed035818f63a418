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
	"pfwdctl": `  sudo pfwdctl wizard                          # first time: the guided setup
  sudo pfwdctl apply --target 127.0.0.1:8009   # harden sshd, install the account's Match block
  sudo pfwdctl add-key friend.pub --name alice --expires 30d
  sudo pfwdctl verify --self                   # prove it with a real SSH client
  sudo pfwdctl audit                           # check nothing else undoes it`,
	"pfwdctl user": `  sudo pfwdctl user create --user pfwd`,
	"pfwdctl rotate": `  sudo pfwdctl rotate alice alice-new.pub                  # same name, options and expiry, new key
  sudo pfwdctl rotate SHA256:... new.pub --kill-sessions   # and end the old key's open tunnels`,
	"pfwdctl friend": `  sudo pfwdctl friend alice --host gw.example.org
  sudo pfwdctl friend alice --json > alice-setup.json`,
	"pfwdctl remove": `  sudo pfwdctl remove --dry-run                      # what would go
  sudo pfwdctl remove                                # pfwdctl's sshd settings; accounts stay
  sudo pfwdctl remove --user pfwd --delete-account   # also the account, its keys and home`,
	"pfwdctl sessions": `  sudo pfwdctl sessions
  sudo pfwdctl sessions --history --since 7d
  sudo pfwdctl sessions --follow --json`,
	"pfwdctl sessions kill": `  sudo pfwdctl sessions kill alice
  sudo pfwdctl sessions kill 12345        # one connection, by its sshd pid`,
	"pfwdctl ca": `  pfwdctl ca init --out ~/pfwdctl-ca                      # on the CA's machine
  sudo pfwdctl apply --ca ~/pfwdctl-ca/pfwdctl_ca.pub      # on the server
  pfwdctl ca sign alice.pub --ca ~/pfwdctl-ca/pfwdctl_ca --name alice --for 8h`,
	"pfwdctl ca init": `  pfwdctl ca init --out ~/pfwdctl-ca`,
	"pfwdctl ca sign": `  pfwdctl ca sign alice.pub --ca ~/pfwdctl-ca/pfwdctl_ca --name alice --for 8h
  pfwdctl ca sign alice.pub --ca-agent --name alice --for 30m --from 203.0.113.0/24`,
	"pfwdctl ca list": `  sudo pfwdctl ca list --user pfwd`,
	"pfwdctl ca revoke": `  sudo pfwdctl ca revoke --serial 12
  sudo pfwdctl ca revoke --id alice --kill-sessions
  sudo pfwdctl ca revoke alice-cert.pub`,
	"pfwdctl request": `  pfwdctl request --name alice --for 4h --reason "incident 42"
  pfwdctl request --key bob.pub --name bob --for 30m --reason "deploy"`,
	"pfwdctl requests": `  pfwdctl requests
  pfwdctl requests --state pending --json`,
	"pfwdctl approve": `  sudo pfwdctl approve ID                                        # shows the request, its fingerprint and digest
  sudo pfwdctl approve ID --fingerprint SHA256:... --digest D --for 1h`,
	"pfwdctl deny":  `  sudo pfwdctl deny ID --reason "not during the freeze"`,
	"pfwdctl grant": `  sudo pfwdctl grant alice --for 2h --reason "on call"`,
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
