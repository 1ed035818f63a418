package sshlog

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/internal/run"
)

// followPoll is how often a followed file is checked for new lines.
const followPoll = 250 * time.Millisecond

// Follow is a Source of what sshd logs from now on, until ctx ends: with
// file set, that file from its end; else the journal where Sources would
// read it (journalctl -f), else the current auth.log or secure from its
// end. A followed file that is rotated away is not reopened.
func Follow(ctx context.Context, root hostfs.Root, runner run.Runner, file string) (Source, error) {
	if file == "" && runner != nil && root.IsHost() {
		if out, _, err := runner.Run(ctx, "journalctl", journalArgs(root, time.Time{}, time.Time{}, true)...); err == nil && len(bytes.TrimSpace(out)) > 0 {
			args := append(journalArgs(root, time.Time{}, time.Time{}, false), "-f", "-n", "0")
			return Source{Name: run.Line("journalctl", args...), Open: func(ctx context.Context) (io.ReadCloser, Format, error) {
				if _, ok := runner.(run.Exec); !ok {
					return nil, "", errors.New("following the journal needs the real journalctl")
				}
				return openJournal(ctx, runner, args)
			}}, nil
		}
	}
	if file == "" {
		for _, p := range []string{"/var/log/auth.log", "/var/log/secure"} {
			if fi, err := root.Stat(p); err == nil && fi.Mode().IsRegular() {
				file = p
				break
			}
		}
	}
	if file == "" {
		return Source{}, errors.New("no sshd log to follow: no journal entries for ssh/sshd, no /var/log/auth.log, no /var/log/secure")
	}
	return Source{Name: file, Open: func(ctx context.Context) (io.ReadCloser, Format, error) {
		f, err := os.OpenFile(root.PathDir(file), os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			return nil, "", err
		}
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			f.Close()
			return nil, "", &fs.PathError{Op: "follow", Path: file, Err: errors.New("not a regular file")}
		}
		// The format of what comes is the format of what is there.
		format := Format("")
		tail := int64(8192)
		if fi.Size() < tail {
			tail = fi.Size()
		}
		buf := make([]byte, tail)
		if n, _ := f.ReadAt(buf, fi.Size()-tail); n > 0 {
			lines := bytes.Split(bytes.TrimRight(buf[:n], "\n"), []byte("\n"))
			for i := len(lines) - 1; i >= 0 && format == ""; i-- {
				format = DetectFormat(lines[i])
			}
		}
		if _, err := f.Seek(0, io.SeekEnd); err != nil {
			f.Close()
			return nil, "", err
		}
		return &tailReader{ctx: ctx, f: f}, format, nil
	}}, nil
}

// tailReader reads a growing file, waiting at its end until ctx ends.
type tailReader struct {
	ctx context.Context
	f   *os.File
}

func (t *tailReader) Read(p []byte) (int, error) {
	for {
		n, err := t.f.Read(p)
		if n > 0 || (err != nil && !errors.Is(err, io.EOF)) {
			return n, err
		}
		select {
		case <-t.ctx.Done():
			return 0, io.EOF
		case <-time.After(followPoll):
		}
	}
}

func (t *tailReader) Close() error { return t.f.Close() }
