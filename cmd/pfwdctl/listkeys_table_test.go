package main

import (
	"bytes"
	"strings"
	"testing"
	"text/tabwriter"
)

// list-keys' table is laid out as text/tabwriter laid it out before:
// the same bytes for cells of every width and non-ASCII names (width in
// runes). Every row has the same cells, as list-keys' rows do (tabwriter
// would start new column widths after a shorter row; writeColumns does not).
func TestWriteColumnsIsTabwriter(t *testing.T) {
	rows := [][]string{
		{"NAME", "TYPE", "FINGERPRINT", "TARGETS", "EXPIRES", "FROM"},
		{"alice", "ed25519 256", "SHA256:abc", "127.0.0.1:8009", "never", "any"},
		{"bøb-läptop", "rsa 4096", "SHA256:defghij", "-", "2026-01-02 03:04 UTC EXPIRED", "203.0.113.7/32,10.0.0.0/8"},
		{"-", "ecdsa-sha2-nistp256 256", "SHA256:k", "127.0.0.1:8009,[::1]:8009", "never", "any"},
		{"\\x1b[31mred", "x", "y", "z", "w", ""},
	}
	var want, got bytes.Buffer
	tw := tabwriter.NewWriter(&want, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		tw.Write([]byte(strings.Join(r, "\t") + "\n"))
	}
	tw.Flush()
	writeColumns(&got, rows, 2)
	if got.String() != want.String() {
		t.Errorf("writeColumns:\n%s\ntabwriter:\n%s", got.String(), want.String())
	}
}
