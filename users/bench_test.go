package users

import (
	"context"
	"os"
	"strings"
	"testing"
)

// BenchmarkAddKey10k adds one key to an authorized_keys of 10,000 keys
// (lock, read, fingerprint every line, write atomically with fsync, audit).
// Each iteration starts from the same 10,000-key file.
func BenchmarkAddKey10k(b *testing.B) { benchAddKey(b, 10000) }

// BenchmarkAddKey1k is the same at a tenth of the size: the ratio to the
// 10k figure shows the cost is linear in the file (plus a fixed fsync).
func BenchmarkAddKey1k(b *testing.B) { benchAddKey(b, 1000) }

func benchAddKey(b *testing.B, n int) {
	h, root := benchTree(b)
	os.MkdirAll(root.Path("/home/pfwd/.ssh"), 0o700)
	var sb strings.Builder
	for i := 0; i < n; i++ {
		k := newKey(b, "k")
		sb.WriteString(`restrict,port-forwarding,permitopen="127.0.0.1:8009" ` + k.Type() + " " + k.Base64() + " friend\n")
	}
	data := []byte(sb.String())
	k := newKey(b, "new")
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		os.WriteFile(root.Path(akPath), data, 0o600)
		b.StartTimer()
		if _, err := h.AddKey(ctx, AddKeyRequest{User: "pfwd", Key: k}); err != nil {
			b.Fatal(err)
		}
	}
}
