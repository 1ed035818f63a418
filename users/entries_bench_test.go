package users

import (
	"testing"

	"github.com/pfwdctl/pfwdctl/users/keyline"
)

// BenchmarkEntries10k is the per-line work every add-key, list-keys and
// revoke does on the whole file: split each line and fingerprint its key
// (base64 and SHA-256, no key parsing).
func BenchmarkEntries10k(b *testing.B) {
	var lines []string
	for i := 0; i < 10000; i++ {
		k := newKey(b, "k")
		lines = append(lines, `restrict,port-forwarding,permitopen="127.0.0.1:8009" `+k.Type()+" "+k.Base64()+" friend")
	}
	lines = append(lines, "")
	kf := &KeysFile{Lines: lines}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if es := kf.Entries(); len(es) != 10000 {
			b.Fatal(len(es))
		}
	}
}

// Entries allocates once per key line (its fingerprint string), not for a
// byte copy of the line, a split slice and a decoded blob as it did: it
// runs over every line of a 10,000-key file for each add-key, list-keys
// and revoke.
func TestEntriesAllocateOncePerLine(t *testing.T) {
	var lines []string
	var first keyline.Key
	for i := 0; i < 100; i++ {
		k := newKey(t, "k")
		if i == 0 {
			first = k
		}
		lines = append(lines, `  restrict,port-forwarding,permitopen="127.0.0.1:8009" `+k.Type()+" "+k.Base64()+" friend  ")
	}
	kf := &KeysFile{Lines: lines}
	if es := kf.Entries(); len(es) != 100 || es[0].Err != nil || es[0].Fingerprint != first.Fingerprint() {
		t.Fatalf("entries: %d, first %+v", len(es), es[0])
	}
	// One for the slice of entries, one per line.
	if n := testing.AllocsPerRun(20, func() { kf.Entries() }); n > 101 {
		t.Errorf("Entries of 100 lines allocates %.0f times, want <= 101", n)
	}
}
