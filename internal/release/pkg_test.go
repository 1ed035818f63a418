package release

import "testing"

// TestPackageVersion: every version the Makefile can stamp becomes one
// both dpkg and rpm accept and sort as meant.
func TestPackageVersion(t *testing.T) {
	for _, tc := range []struct{ in, version, pre string }{
		{"v1.2.3", "1.2.3", ""},
		{"1.2.3", "1.2.3", ""},
		{"v1.2.3-rc1", "1.2.3", "rc1"},
		{"v1.2.3-4-gabcdef0", "1.2.3", "4.gabcdef0"},
		{"v1.2.3-4-gabcdef0-dirty", "1.2.3", "4.gabcdef0.dirty"},
		{"v1.2.3+meta", "1.2.3", ""},
		{"204ed0a", "0", "git204ed0a"},
		{"204ed0a-dirty", "0", "git204ed0a.dirty"},
		{"dev", "0", "gitdev"},
		{"v1.2", "0", "gitv1.2"},
	} {
		v, pre := PackageVersion(tc.in)
		if v != tc.version || pre != tc.pre {
			t.Errorf("PackageVersion(%q) = %q, %q; want %q, %q", tc.in, v, pre, tc.version, tc.pre)
		}
	}
}
