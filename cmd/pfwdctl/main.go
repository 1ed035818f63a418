// Command pfwdctl hardens sshd, keeps a port-forward-only account, and
// proves it. Each command lives in its own file and is thin: it parses
// flags, calls render/, users/ or verify/, and prints.
package main

import "os"

func main() { os.Exit(Main(os.Args[1:], SystemEnv())) }
