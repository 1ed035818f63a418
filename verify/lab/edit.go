package lab

import (
	"strings"

	"github.com/pfwdctl/pfwdctl/render"
	"github.com/pfwdctl/pfwdctl/templates"
)

// WithoutLine returns an Edit that drops, from the drop-in named file (or
// from every drop-in when file is empty), each line whose keyword is
// keyword (case-insensitive, as sshd reads keywords).
func WithoutLine(file, keyword string) func([]render.File) []render.File {
	return ReplaceLine(file, keyword, "")
}

// ReplaceLine returns an Edit that replaces each line whose keyword is
// keyword with line, keeping the indentation (an empty line drops it).
func ReplaceLine(file, keyword, line string) func([]render.File) []render.File {
	return func(files []render.File) []render.File {
		for i, f := range files {
			if file != "" && !sameFile(f.Name, file) {
				continue
			}
			var out []string
			for _, l := range strings.SplitAfter(string(f.Data), "\n") {
				trimmed := strings.TrimLeft(l, " \t")
				kw, _, _ := strings.Cut(trimmed, " ")
				if l == "" || !strings.EqualFold(strings.TrimSpace(kw), keyword) {
					out = append(out, l)
					continue
				}
				if line != "" {
					out = append(out, l[:len(l)-len(trimmed)]+line+"\n")
				}
			}
			files[i].Data = []byte(strings.Join(out, ""))
		}
		return files
	}
}

// Chain applies edits in order.
func Chain(edits ...func([]render.File) []render.File) func([]render.File) []render.File {
	return func(files []render.File) []render.File {
		for _, e := range edits {
			if e != nil {
				files = e(files)
			}
		}
		return files
	}
}

// Without drops the drop-in named file altogether.
func Without(file string) func([]render.File) []render.File {
	return func(files []render.File) []render.File {
		var out []render.File
		for _, f := range files {
			if !sameFile(f.Name, file) {
				out = append(out, f)
			}
		}
		return out
	}
}

// sameFile reports whether the drop-in name is the file an edit names.
// templates.Forward names the Match block whatever the lab account
// (whose file is templates.ForwardFile(account)), so one edit serves
// every lab.
func sameFile(name, file string) bool {
	if name == file {
		return true
	}
	_, isFwd := templates.ForwardAccount(name)
	return isFwd && file == templates.Forward
}
