package fleet

import (
	"bytes"
	"testing"
)

// FuzzParse: an inventory is an admin's file, native or Ansible INI.
func FuzzParse(f *testing.F) {
	f.Add([]byte("web1.example.org\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		Parse(bytes.NewReader(data), "inv")
	})
}
