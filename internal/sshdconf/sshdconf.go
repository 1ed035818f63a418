// Package sshdconf reads sshd_config files the way sshd does, far enough to
// say which file and line a directive came from: comments, "keyword value" or
// "keyword=value", double quotes, Include globs (relative to /etc/ssh, sorted,
// recursive) and Match scope. It never writes; what sshd finally uses is
// always asked of sshd itself (sshd -T), this package only explains it.
package sshdconf

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pfwdctl/pfwdctl/internal/hostfs"
)

// SSHDir is where sshd resolves relative Include paths (sshd_config(5):
// "Files without absolute paths are assumed to be in /etc/ssh").
const SSHDir = "/etc/ssh"

// Line is one directive.
type Line struct {
	File    string   // host path (without the root prefix)
	Num     int      // 1-based line number
	Keyword string   // lower-case, as sshd -T prints it
	Args    []string // unquoted
	// Match is the criteria of the Match block the line sits in ("" for
	// global scope); MatchAt is where that block started.
	Match   string
	MatchAt string
}

// At is "file:line".
func (l Line) At() string { return fmt.Sprintf("%s:%d", l.File, l.Num) }

// Config is every directive in the order sshd reads it.
type Config struct {
	Lines []Line
}

// Load reads mainPath (a host path) under root and every file it includes.
func Load(root hostfs.Root, mainPath string) (*Config, error) {
	return LoadOverlay(root, mainPath, nil)
}

// LoadOverlay is Load over a staged view of the host: overlay maps host
// paths to the content a file will have once a planned change is written
// (nil: the file will be absent), and every other file is read from disk.
// apply asks it which file and line would win before it writes anything,
// so an explanation names the planned drop-in and the real other files.
func LoadOverlay(root hostfs.Root, mainPath string, overlay map[string][]byte) (*Config, error) {
	c := &Config{}
	if err := c.load(root, cleanOverlay(overlay), mainPath, "", "", 0); err != nil {
		return nil, err
	}
	return c, nil
}

// cleanOverlay keys the overlay by clean host paths, so "/etc/ssh//x"
// and "/etc/ssh/x" name one file.
func cleanOverlay(overlay map[string][]byte) map[string][]byte {
	if len(overlay) == 0 {
		return nil
	}
	out := make(map[string][]byte, len(overlay))
	for p, data := range overlay {
		out[filepath.Clean("/"+p)] = data
	}
	return out
}

// ReadFile reads a host file as it is in the staged view: the overlay's
// content when it holds the path (fs.ErrNotExist for a planned removal),
// otherwise the file under root.
func ReadFile(root hostfs.Root, overlay map[string][]byte, hostPath string) ([]byte, error) {
	return readStaged(root, cleanOverlay(overlay), hostPath)
}

func readStaged(root hostfs.Root, overlay map[string][]byte, hostPath string) ([]byte, error) {
	if data, ok := overlay[filepath.Clean("/"+hostPath)]; ok {
		if data == nil {
			return nil, &fs.PathError{Op: "open", Path: hostPath, Err: fs.ErrNotExist}
		}
		return data, nil
	}
	return root.ReadFile(hostPath)
}

func (c *Config) load(root hostfs.Root, overlay map[string][]byte, path, match, matchAt string, depth int) error {
	if depth > 16 {
		return fmt.Errorf("%s: Include nested too deeply", path)
	}
	data, err := readStaged(root, overlay, path)
	if err != nil {
		return err
	}
	lines, err := Parse(data)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, l := range lines {
		l.File = path
		if l.Keyword == "match" {
			match = strings.Join(l.Args, " ")
			if strings.EqualFold(match, "all") {
				match = ""
				matchAt = ""
			} else {
				matchAt = l.At()
			}
			l.Match, l.MatchAt = match, matchAt
			c.Lines = append(c.Lines, l)
			continue
		}
		l.Match, l.MatchAt = match, matchAt
		c.Lines = append(c.Lines, l)
		if l.Keyword == "include" {
			for _, pat := range l.Args {
				files, err := glob(root, overlay, pat)
				if err != nil {
					return fmt.Errorf("%s: %w", l.At(), err)
				}
				for _, f := range files {
					// sshd restores the Match state after each Include
					// (OpenSSH 8.2+), so a block left open in a drop-in ends
					// with that file.
					if err := c.load(root, overlay, f, match, matchAt, depth+1); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// ResolveInclude turns an Include argument into an absolute host pattern.
func ResolveInclude(pat string) string {
	if strings.HasPrefix(pat, "~") {
		return pat // sshd expands ~ for the user; not used for system configs
	}
	if !filepath.IsAbs(pat) {
		return filepath.Join(SSHDir, pat)
	}
	return filepath.Clean(pat)
}

// Glob expands an Include pattern under root, sorted as glob(3) sorts,
// returning host paths.
func Glob(root hostfs.Root, pat string) ([]string, error) {
	return glob(root, nil, pat)
}

// glob is Glob over the staged view: planned files join the matches,
// planned removals leave them.
func glob(root hostfs.Root, overlay map[string][]byte, pat string) ([]string, error) {
	hostPat := ResolveInclude(pat)
	matches, err := filepath.Glob(root.Path(hostPat))
	if err != nil {
		return nil, fmt.Errorf("bad Include pattern %q: %w", pat, err)
	}
	// glob(3), which sshd uses, never lets a wildcard match a leading dot;
	// Go's filepath.Glob does. Without this, renameio's dot-named temp
	// files would look included.
	dotOK := strings.HasPrefix(filepath.Base(hostPat), ".")
	seen := map[string]bool{}
	out := make([]string, 0, len(matches))
	for _, m := range matches {
		h := root.HostPath(m)
		if _, staged := overlay[h]; staged || (strings.HasPrefix(filepath.Base(m), ".") && !dotOK) {
			continue
		}
		if fi, err := os.Stat(m); err == nil && fi.Mode().IsRegular() {
			out = append(out, h)
			seen[h] = true
		}
	}
	for h, data := range overlay {
		if data == nil || seen[h] || (strings.HasPrefix(filepath.Base(h), ".") && !dotOK) {
			continue
		}
		if ok, _ := filepath.Match(hostPat, h); ok {
			out = append(out, h)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Parse splits one file's text into directives (File is left empty).
func Parse(data []byte) ([]Line, error) {
	var out []Line
	sc := bufio.NewScanner(bytes.NewReader(data))
	// A buffer the size of the input (at most 64 KiB to start; it grows to
	// 1 MiB for a longer line): callers parse one line at a time too
	// (sshd's staging copy), and 64 KiB each time was megabytes per run.
	sc.Buffer(make([]byte, min(len(data)+1, 64*1024)), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		kw, rest := splitKeyword(text)
		args, err := splitArgs(rest)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		kw = strings.ToLower(kw)
		if kw == "match" {
			args = splitCriteria(args)
		}
		out = append(out, Line{Num: n, Keyword: kw, Args: args})
	}
	return out, sc.Err()
}

// splitCriteria splits Match criteria written as "Address=10.0.0.0/8"
// into criterion and patterns, as sshd's match_cfg_line does (any
// criterion may take its argument after '='): a reader that kept it as one
// word would take the block for one without a connection criterion.
//
// sshd's tokenizer (strdelim) takes one '=' as a separator in any spacing:
// "Address=X", "Address =X", "Address= X" and "Address = X" are all the
// criterion Address with the pattern X.
func splitCriteria(args []string) []string {
	var out []string
	for _, a := range args {
		switch i := strings.IndexByte(a, '='); {
		case a == "=":
			continue // "Address = X"
		case i == 0:
			if a = a[1:]; a != "" {
				out = append(out, a) // "Address =X"
			}
		case i > 0:
			out = append(out, a[:i]) // "Address=X", "Address= X"
			if a[i+1:] != "" {
				out = append(out, a[i+1:])
			}
		default:
			out = append(out, a)
		}
	}
	return out
}

func splitKeyword(s string) (string, string) {
	i := strings.IndexAny(s, " \t=")
	if i < 0 {
		return s, ""
	}
	kw, rest := s[:i], strings.TrimLeft(s[i:], " \t")
	rest = strings.TrimPrefix(rest, "=")
	return kw, strings.TrimLeft(rest, " \t")
}

func splitArgs(s string) ([]string, error) {
	var args []string
	for s = strings.TrimLeft(s, " \t"); s != ""; s = strings.TrimLeft(s, " \t") {
		if s[0] == '#' {
			break // a trailing comment
		}
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("unterminated quote")
			}
			args = append(args, s[1:1+end])
			s = s[2+end:]
			continue
		}
		end := strings.IndexAny(s, " \t")
		if end < 0 {
			end = len(s)
		}
		args = append(args, s[:end])
		s = s[end:]
	}
	return args, nil
}

// IncludesFile reports whether a global-scope Include line in the main file
// picks up hostPath, and returns that line. Includes inside a Match block do
// not count: they would only apply to matching connections.
func IncludesFile(root hostfs.Root, mainPath, hostPath string) (Line, bool, error) {
	return IncludesFileOverlay(root, nil, mainPath, hostPath)
}

// IncludesFileOverlay is IncludesFile with the main file read from the
// staged view (see LoadOverlay).
func IncludesFileOverlay(root hostfs.Root, overlay map[string][]byte, mainPath, hostPath string) (Line, bool, error) {
	data, err := ReadFile(root, overlay, mainPath)
	if err != nil {
		return Line{}, false, err
	}
	lines, err := Parse(data)
	if err != nil {
		return Line{}, false, err
	}
	inMatch := false
	for _, l := range lines {
		l.File = mainPath
		if l.Keyword == "match" {
			inMatch = !strings.EqualFold(strings.Join(l.Args, " "), "all")
			continue
		}
		if l.Keyword != "include" || inMatch {
			continue
		}
		for _, pat := range l.Args {
			if ok, _ := filepath.Match(ResolveInclude(pat), hostPath); ok {
				return l, true, nil
			}
		}
	}
	return Line{}, false, nil
}
