package sshdconf

import "testing"

// FuzzParse: sshd_config files are read as found on the host.
func FuzzParse(f *testing.F) {
	f.Add([]byte("Include /etc/ssh/sshd_config.d/*.conf\nMatch User pfwd\n\tPermitOpen 127.0.0.1:8009\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		Parse(data)
	})
}
