package accounts

import (
	"path"
	"strconv"
	"strings"
)

// DefaultKeysFiles is sshd's compiled-in AuthorizedKeysFile.
var DefaultKeysFiles = []string{".ssh/authorized_keys", ".ssh/authorized_keys2"}

// KeysFiles turns the effective AuthorizedKeysFile values (sshd -T -C
// for a) into host paths, the way sshd does: %% %h %u %U expanded, a
// relative name under the home, "none" dropped. set is false when sshd -T
// printed no value, which means the compiled-in default. Every command
// that reads or writes an account's keys (add-key, list-keys, revoke,
// prune, the lockout guard) uses this list, so none acts on a picture of
// the keys other than sshd's.
func KeysFiles(a Account, values []string, set bool) []string {
	if !set {
		values = DefaultKeysFiles
	}
	var out []string
	for _, f := range values {
		if strings.EqualFold(f, "none") {
			continue
		}
		var b strings.Builder
		for i := 0; i < len(f); i++ {
			if f[i] != '%' || i+1 == len(f) {
				b.WriteByte(f[i])
				continue
			}
			i++
			switch f[i] {
			case '%':
				b.WriteByte('%')
			case 'h':
				b.WriteString(a.Home)
			case 'u':
				b.WriteString(a.Name)
			case 'U':
				b.WriteString(strconv.Itoa(a.UID))
			default:
				b.WriteByte('%')
				b.WriteByte(f[i])
			}
		}
		p := b.String()
		if !path.IsAbs(p) {
			p = path.Join(a.Home, p)
		}
		out = append(out, path.Clean(p))
	}
	return out
}
