package render

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/templates"
)

// Mode is how pfwdctl's configuration reaches sshd.
type Mode string

const (
	// ModeAuto picks ModeManaged where pfwdctl's blocks already sit in
	// sshd_config or where the installed sshd cannot use drop-ins
	// (sshd.Caps), else ModeDropIns.
	ModeAuto Mode = "auto"
	// ModeDropIns writes one file per unit into sshd_config.d, read
	// through an Include at the top of sshd_config (OpenSSH 8.4 and
	// later; 8.2 and 8.3 ignore a Match block in an included file).
	ModeDropIns Mode = "drop-ins"
	// ModeManaged writes the same units into sshd_config itself, each
	// between a BEGIN and an END marker line: the global ones (baseline,
	// crypto) at the very top, so their first values win as the drop-ins'
	// would, and the Match blocks at the very end. For OpenSSH 8.0 (no
	// Include) and 8.2/8.3.
	ModeManaged Mode = "managed-block"
)

// ParseMode reads an --install-mode value.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeAuto, ModeDropIns, ModeManaged:
		return m, nil
	case "":
		return ModeAuto, nil
	case "managed":
		return ModeManaged, nil
	}
	return "", fail.New(fail.Usage, "use auto, drop-ins or managed-block", "unknown install mode %q", s)
}

// The marker lines of a managed block: "# BEGIN pfwdctl NAME" and
// "# END pfwdctl NAME", NAME being the drop-in name the unit would have
// (10-hardening.conf, 20-pfwd-only.conf, ...), so both modes speak of the
// same units. The rest of the BEGIN line is a note for the admin.
const (
	beginMarker = "# BEGIN pfwdctl "
	endMarker   = "# END pfwdctl "
	beginNote   = " (managed by pfwdctl apply: edits here are overwritten)"
)

// Region is one managed block in sshd_config.
type Region struct {
	Name string
	// Begin and End are the 1-based numbers of the marker lines; the
	// unit's own lines are Begin+1 .. End-1.
	Begin, End int
	Data       []byte
}

// Contains says whether line n (1-based) is one of the region's own lines.
func (r Region) Contains(n int) bool { return n > r.Begin && n < r.End }

// Regions finds pfwdctl's managed blocks in a main config. A marker
// without its partner, a block inside another or a name used twice is an
// error: pfwdctl must not guess where a block it would rewrite ends. A
// comment that looks like a marker but names no unit pfwdctl renders is
// the admin's own text.
func Regions(main []byte) ([]Region, error) {
	var out []Region
	seen := map[string]bool{}
	open := -1
	lines := splitLines(main)
	var body bytes.Buffer
	for i, text := range lines {
		n := i + 1
		t := strings.TrimRight(text, "\r\n")
		switch {
		case strings.HasPrefix(t, beginMarker) && unitName(markerName(t, beginMarker)):
			name := markerName(t, beginMarker)
			if open >= 0 {
				return nil, fmt.Errorf("line %d: %q starts a block inside the one opened at line %d", n, t, out[open].Begin)
			}
			if seen[name] {
				return nil, fmt.Errorf("line %d: a second block for %s", n, name)
			}
			seen[name] = true
			out = append(out, Region{Name: name, Begin: n})
			open = len(out) - 1
			body.Reset()
		case strings.HasPrefix(t, endMarker) && unitName(markerName(t, endMarker)):
			name := markerName(t, endMarker)
			if open < 0 || out[open].Name != name {
				return nil, fmt.Errorf("line %d: %q ends no open block", n, t)
			}
			out[open].End = n
			out[open].Data = bytes.Clone(body.Bytes())
			open = -1
		case open >= 0:
			body.WriteString(text)
		}
	}
	if open >= 0 {
		return nil, fmt.Errorf("line %d: the block for %s is never ended (no %q line)", out[open].Begin, out[open].Name, endMarker+out[open].Name)
	}
	return out, nil
}

// markerName is the unit a marker line names: the first word after the
// marker (a note may follow, after any white space). A "# BEGIN pfwdctl"
// comment that names no unit pfwdctl renders is an admin's own text.
func markerName(line, marker string) string {
	f := strings.Fields(strings.TrimPrefix(line, marker))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// splitLines keeps each line's newline.
func splitLines(b []byte) []string {
	var out []string
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, string(b))
			break
		}
		out = append(out, string(b[:i+1]))
		b = b[i+1:]
	}
	return out
}

// unitName is a name pfwdctl renders: the baseline, the crypto file or an
// account's Match block.
func unitName(name string) bool {
	if name == templates.Hardening || name == templates.Crypto {
		return true
	}
	_, ok := templates.ForwardAccount(name)
	return ok
}

// atEnd says whether a unit belongs at the end of sshd_config (a Match
// block) rather than at its top (global lines).
func atEnd(name string) bool {
	_, ok := templates.ForwardAccount(name)
	return ok
}

// Splice returns main with files as managed blocks: every pfwdctl block
// is taken out, files replace or join them, and they are put back in
// canonical places, the global units at the top in name order (their
// first values win over everything below, as the drop-ins' do) and the
// Match blocks at the end in name order. Everything outside the blocks
// stays byte for byte, so splicing twice changes nothing.
func Splice(main []byte, files []File) ([]byte, error) {
	regions, err := Regions(main)
	if err != nil {
		return nil, err
	}
	units := map[string][]byte{}
	for _, r := range regions {
		units[r.Name] = r.Data
	}
	for _, f := range files {
		units[f.Name] = f.Data
	}
	rest := withoutRegions(main, regions)
	var names []string
	for n := range units {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	for _, n := range names {
		if !atEnd(n) {
			writeRegion(&b, n, units[n])
		}
	}
	b.Write(rest)
	if len(rest) > 0 && rest[len(rest)-1] != '\n' {
		b.WriteByte('\n')
	}
	for _, n := range names {
		if atEnd(n) {
			writeRegion(&b, n, units[n])
		}
	}
	return b.Bytes(), nil
}

// ManagedBlock is unit name as a managed block, marker lines included (the
// lab builds its own main config from them).
func ManagedBlock(name string, data []byte) []byte {
	var b bytes.Buffer
	writeRegion(&b, name, data)
	return b.Bytes()
}

// AtEnd says whether unit name goes at the end of sshd_config in the
// managed-block mode (a Match block) rather than at its top.
func AtEnd(name string) bool { return atEnd(name) }

func writeRegion(b *bytes.Buffer, name string, data []byte) {
	b.WriteString(beginMarker + name + beginNote + "\n")
	b.Write(data)
	if len(data) > 0 && data[len(data)-1] != '\n' {
		b.WriteByte('\n')
	}
	b.WriteString(endMarker + name + "\n")
}

// withoutRegions is main with every region's lines, markers included,
// taken out.
func withoutRegions(main []byte, regions []Region) []byte {
	lines := splitLines(main)
	var b bytes.Buffer
	next := 0
	for i, l := range lines {
		n := i + 1
		if next < len(regions) && n >= regions[next].Begin && n <= regions[next].End {
			if n == regions[next].End {
				next++
			}
			continue
		}
		b.WriteString(l)
	}
	return b.Bytes()
}

// Layout is where a host keeps pfwdctl's units: the drop-in directory or
// managed blocks in the main config. Everything that reads what pfwdctl
// installed (apply, audit, list-keys, add-key) asks it, so both modes are
// understood in one place.
type Layout struct {
	Root    hostfs.Root
	Main    string // host path of sshd_config
	Mode    Mode   // ModeDropIns or ModeManaged
	regions []Region
}

// ReadLayout finds how pfwdctl's units are installed: managed blocks when
// the main config has any, else drop-ins (also when nothing is installed
// yet).
func ReadLayout(root hostfs.Root, mainConfig string) (Layout, error) {
	data, err := root.ReadFile(mainConfig)
	if errors.Is(err, fs.ErrNotExist) {
		return Layout{Root: root, Main: mainConfig, Mode: ModeDropIns}, nil
	}
	if err != nil {
		return Layout{Root: root, Main: mainConfig, Mode: ModeDropIns}, fail.Wrap(fail.Failed, err, "pass --sshd-config PATH if the main config lives elsewhere", "read %s", mainConfig)
	}
	return LayoutFrom(root, mainConfig, data)
}

// LayoutFrom is ReadLayout for a main config already read (audit reads it
// through the planned change).
func LayoutFrom(root hostfs.Root, mainConfig string, main []byte) (Layout, error) {
	l := Layout{Root: root, Main: mainConfig, Mode: ModeDropIns}
	regions, err := Regions(main)
	if err != nil {
		return l, fail.Wrap(fail.Failed, err, "repair or remove pfwdctl's BEGIN/END marker lines by hand, then run pfwdctl apply", "cannot read pfwdctl's managed blocks in %s", mainConfig)
	}
	if len(regions) > 0 {
		l.Mode, l.regions = ModeManaged, regions
	}
	return l, nil
}

// Path is the host file that holds unit name.
func (l Layout) Path(name string) string {
	if l.Mode == ModeManaged {
		return l.Main
	}
	return filepath.Join(DropInDir(l.Main), name)
}

// Region is unit name's managed block, if the layout has one.
func (l Layout) Region(name string) (Region, bool) {
	for _, r := range l.regions {
		if r.Name == name {
			return r, true
		}
	}
	return Region{}, false
}

// Holds says whether line num of file (host path) is one of unit name's
// own lines.
func (l Layout) Holds(name, file string, num int) bool {
	if l.Mode != ModeManaged {
		return file == l.Path(name)
	}
	r, ok := l.Region(name)
	return ok && file == l.Main && r.Contains(num)
}

// At is where unit name is, for messages: its file, or "sshd_config:N"
// for its managed block.
func (l Layout) At(name string) string {
	if r, ok := l.Region(name); ok {
		return fmt.Sprintf("%s:%d (managed block %s)", l.Main, r.Begin, name)
	}
	return l.Path(name)
}

// Read is unit name as installed; found is false when it is not.
func (l Layout) Read(name string) (data []byte, found bool, err error) {
	if l.Mode == ModeManaged {
		r, ok := l.Region(name)
		return r.Data, ok, nil
	}
	p := l.Path(name)
	data, err = l.Root.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fail.Wrap(fail.Failed, err, "", "read %s", p)
	}
	return data, true, nil
}

// Names are the units installed, in name order.
func (l Layout) Names() ([]string, error) {
	var out []string
	if l.Mode == ModeManaged {
		for _, r := range l.regions {
			out = append(out, r.Name)
		}
		sort.Strings(out)
		return out, nil
	}
	dir := DropInDir(l.Main)
	ents, err := os.ReadDir(l.Root.PathDir(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fail.Wrap(fail.Failed, err, "", "read %s", dir)
	}
	for _, e := range ents {
		if unitName(e.Name()) && e.Type().IsRegular() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}
