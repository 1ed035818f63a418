// Command pfwdctl hardens sshd, keeps a port-forward-only account, and
// proves it. Each command lives in its own file and is thin: it parses
// flags, calls render/, users/ or verify/, and prints.
package main

import (
	"os"

	"github.com/pfwdctl/pfwdctl/internal/termguard"
)

func main() {
	// First: TERM was hidden from package initialisation only (see
	// termguard), every command and the wizard see the real one.
	termguard.Restore()
	os.Exit(Main(os.Args[1:], SystemEnv()))
}
