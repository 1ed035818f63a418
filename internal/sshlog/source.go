package sshlog

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/run"
)

// Source is one log to read: a file (maybe gzip-compressed) or the journal.
type Source struct {
	Name string
	Open func(ctx context.Context) (io.ReadCloser, Format, error)
}

// journalArgs is the journalctl command line for sshd's units. Debian and
// Ubuntu call the unit ssh, RHEL and Arch sshd; -u twice reads both.
func journalArgs(root hostfs.Root, since, until time.Time, probe bool) []string {
	args := []string{"-o", "json", "--no-pager", "-u", "ssh", "-u", "sshd"}
	if !root.IsHost() {
		// The tree's journal, never the running host's.
		args = append(args, "--directory", root.PathDir("/var/log/journal"))
	}
	if probe {
		return append(args, "-n", "1")
	}
	if !since.IsZero() {
		args = append(args, "--since", "@"+strconv.FormatInt(since.Unix(), 10))
	}
	if !until.IsZero() {
		args = append(args, "--until", "@"+strconv.FormatInt(until.Unix(), 10))
	}
	return args
}

// Sources lists where sshd's log is on the host under root, oldest first:
// the systemd journal when journalctl answers and the ssh or sshd unit has
// entries (then the syslog files, which would repeat them, are left out);
// otherwise /var/log/auth.log (Debian, Ubuntu) or /var/log/secure (RHEL)
// with their rotations (NAME.N and NAME.N.gz, highest N first). A rotated
// file last written before since is skipped.
func Sources(ctx context.Context, root hostfs.Root, runner run.Runner, since, until time.Time) ([]Source, error) {
	if runner != nil && (root.IsHost() || dirExists(root, "/var/log/journal")) {
		out, _, err := runner.Run(ctx, "journalctl", journalArgs(root, since, until, true)...)
		if err == nil && len(bytes.TrimSpace(out)) > 0 {
			args := journalArgs(root, since, until, false)
			return []Source{{
				Name: run.Line("journalctl", args...),
				Open: func(ctx context.Context) (io.ReadCloser, Format, error) {
					return openJournal(ctx, runner, args)
				},
			}}, nil
		}
	}
	var srcs []Source
	for _, base := range []string{"auth.log", "secure"} {
		files, err := rotated(root, "/var/log", base, since)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			srcs = append(srcs, FileSource(root, f))
		}
	}
	if len(srcs) == 0 {
		return nil, fmt.Errorf("no sshd log under %s: no journal entries for ssh/sshd, no /var/log/auth.log, no /var/log/secure", root)
	}
	return srcs, nil
}

func dirExists(root hostfs.Root, p string) bool {
	fi, err := root.Stat(p)
	return err == nil && fi.IsDir()
}

// rotated lists dir/base and its rotations, oldest first.
func rotated(root hostfs.Root, dir, base string, since time.Time) ([]string, error) {
	ents, err := os.ReadDir(root.PathDir(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	type rot struct {
		n    int
		name string
	}
	var rs []rot
	for _, e := range ents {
		name := e.Name()
		if name == base {
			rs = append(rs, rot{0, name})
			continue
		}
		rest, ok := strings.CutPrefix(name, base+".")
		if !ok {
			continue
		}
		rest = strings.TrimSuffix(rest, ".gz")
		n, err := strconv.Atoi(rest)
		if err != nil || n <= 0 {
			continue
		}
		if !since.IsZero() {
			if fi, err := e.Info(); err == nil && fi.ModTime().Before(since) {
				continue
			}
		}
		rs = append(rs, rot{n, name})
	}
	sort.Slice(rs, func(a, b int) bool { return rs[a].n > rs[b].n })
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = path.Join(dir, r.name)
	}
	return out, nil
}

// FileSource reads one file under root (any format, gzip by its magic).
func FileSource(root hostfs.Root, p string) Source {
	return Source{Name: p, Open: func(ctx context.Context) (io.ReadCloser, Format, error) {
		f, err := os.OpenFile(root.PathDir(p), os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			return nil, "", err
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, "", err
		}
		if !fi.Mode().IsRegular() {
			f.Close()
			return nil, "", &fs.PathError{Op: "read", Path: p, Err: errors.New("not a regular file")}
		}
		var r io.Reader = bufio.NewReader(f)
		closers := []io.Closer{f}
		if magic, _ := r.(*bufio.Reader).Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
			gz, err := gzip.NewReader(r)
			if err != nil {
				f.Close()
				return nil, "", fmt.Errorf("%s: %w", p, err)
			}
			r = gz
			closers = append([]io.Closer{gz}, closers...)
		}
		br := bufio.NewReaderSize(r, maxLine)
		format := peekFormat(br)
		return &readCloser{Reader: br, closers: closers}, format, nil
	}}
}

// peekFormat detects the format from the first lines without consuming
// them: the first syslog- or journal-shaped one decides (a first line cut
// by rotation or truncation must not make the whole file unreadable).
func peekFormat(br *bufio.Reader) Format {
	b, _ := br.Peek(8192)
	for n := 0; n < 10 && len(b) > 0; n++ {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if f := DetectFormat(bytes.TrimRight(line, "\r")); f != SshdE {
			return f
		}
	}
	return SshdE
}

type readCloser struct {
	io.Reader
	closers []io.Closer
}

func (r *readCloser) Close() error {
	var first error
	for _, c := range r.closers {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// openJournal streams journalctl's output when the runner is the real
// one (run.Exec buffers a whole output, which a year of journal must not
// be); any other runner (run.Stub in tests) is asked through Run.
func openJournal(ctx context.Context, runner run.Runner, args []string) (io.ReadCloser, Format, error) {
	if ex, ok := runner.(run.Exec); ok {
		cmd := exec.CommandContext(ctx, "journalctl", args...)
		if ex.Env != nil {
			cmd.Env = ex.Env
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, "", err
		}
		if err := cmd.Start(); err != nil {
			return nil, "", err
		}
		return &cmdReader{ReadCloser: out, cmd: cmd}, Journal, nil
	}
	out, _, err := runner.Run(ctx, "journalctl", args...)
	if err != nil {
		return nil, "", err
	}
	return io.NopCloser(bytes.NewReader(out)), Journal, nil
}

type cmdReader struct {
	io.ReadCloser
	cmd *exec.Cmd
}

func (c *cmdReader) Close() error {
	c.ReadCloser.Close()
	if c.cmd.Process != nil {
		c.cmd.Process.Kill()
	}
	c.cmd.Wait()
	return nil
}
