package users

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/pfwdctl/pfwdctl/internal/fail"
	"github.com/pfwdctl/pfwdctl/internal/hostfs"
	"github.com/pfwdctl/pfwdctl/users/keyline"
)

// DormantPath is the host path of the registry of dormant keys: friends'
// keys recorded by add-key --dormant with their names and targets, which
// sshd never reads. A dormant key lets nobody in; pfwdctl grant and
// approve (internal/jit) install it for a window.
const DormantPath = "/var/lib/pfwdctl/dormant.json"

// Audit log actions of the dormant registry: add-key --dormant, and
// revoke --dormant.
const (
	ActionKeyDormant       = "key-dormant"
	ActionKeyDormantRemove = "key-dormant-remove"
)

// maxDormant bounds the registry read back, so a planted huge file cannot
// exhaust memory.
const maxDormant = 4 << 20

// DormantKey is one registered, not authorized, key.
type DormantKey struct {
	Account     string `json:"account"`
	Name        string `json:"name"`
	Type        string `json:"type"`
	Fingerprint string `json:"fingerprint"`
	// Key is the public key line (TYPE BASE64 NAME), without options.
	Key     string    `json:"key"`
	Targets []string  `json:"targets"`
	From    []string  `json:"from,omitempty"`
	Added   time.Time `json:"added"`
	AddedBy string    `json:"added_by"`
}

type dormantFile struct {
	Keys []DormantKey `json:"keys"`
}

// AddDormant records r's key under its name for r.User without authorizing
// it: nothing is written to authorized_keys. The key passes the same
// checks as AddKey (keyline's policy, the account, the targets), so a key
// that could never be granted is refused now, not at approval. A name
// another key already has is refused unless r.Replace.
func (h Host) AddDormant(ctx context.Context, r AddKeyRequest) (DormantKey, string, error) {
	d := DormantKey{Account: r.User}
	if a, err := h.account(r.User); err != nil {
		return d, "", err
	} else if err := forwardOnly(a); err != nil {
		return d, "", err
	}
	targets, err := h.ResolveTargets(r.User, r.Targets)
	if err != nil {
		return d, "", err
	}
	k := r.Key
	if r.Name != "" {
		k.Comment = keyline.SanitizeName(r.Name)
	}
	if k.Comment == "" {
		return d, "", fail.New(fail.Usage, "give --name NAME: grant and request --name find the key by it", "a dormant key needs a name")
	}
	if _, err := keyline.Build(k, keyline.Options{Targets: targets, From: r.From}); err != nil {
		return d, "", err
	}
	d = DormantKey{Account: r.User, Name: k.Comment, Type: k.Pub.Type(), Fingerprint: k.Fingerprint(),
		Key: k.Type() + " " + k.Base64() + " " + k.Comment, Targets: targets, From: r.From,
		Added: h.now().UTC().Truncate(time.Second), AddedBy: h.auditLog().Admin()}
	unlock, err := h.lock()
	if err != nil {
		return d, "", err
	}
	defer unlock()
	reg, err := h.readDormant()
	if err != nil {
		return d, "", err
	}
	action := "registered"
	var keep []DormantKey
	for _, x := range reg.Keys {
		switch {
		case x.Account != d.Account:
			keep = append(keep, x)
		case x.Fingerprint == d.Fingerprint:
			action = "updated"
		case x.Name == d.Name && !r.Replace:
			return d, "", fail.New(fail.Failed, "give this key another --name, or replace the other with --replace",
				"refusing: %s already has a dormant key named %q (%s)", d.Account, d.Name, x.Fingerprint)
		case x.Name == d.Name:
			action = "replaced"
		default:
			keep = append(keep, x)
		}
	}
	reg.Keys = append(keep, d)
	ev := Event{Action: ActionKeyDormant, Account: d.Account, Fingerprint: d.Fingerprint, Name: d.Name,
		Path: DormantPath, Detail: "registered, not authorized; targets " + strings.Join(targets, ",")}
	if _, err := h.change([]Event{ev}, func() (bool, error) { return true, h.writeDormant(reg) }); err != nil {
		return d, "", err
	}
	return d, action, nil
}

// RemoveDormant takes account's dormant key named sel (a name or a
// fingerprint) out of the registry: grant and request --name no longer
// find it. An absent key is an error, as for Revoke.
func (h Host) RemoveDormant(account, sel string) (DormantKey, error) {
	unlock, err := h.lock()
	if err != nil {
		return DormantKey{}, err
	}
	defer unlock()
	d, err := h.Dormant(account, sel)
	if err != nil {
		return d, err
	}
	reg, err := h.readDormant()
	if err != nil {
		return d, err
	}
	keep := reg.Keys[:0]
	for _, x := range reg.Keys {
		if x.Account != d.Account || x.Fingerprint != d.Fingerprint {
			keep = append(keep, x)
		}
	}
	reg.Keys = keep
	ev := Event{Action: ActionKeyDormantRemove, Account: d.Account, Fingerprint: d.Fingerprint, Name: d.Name, Path: DormantPath}
	_, err = h.change([]Event{ev}, func() (bool, error) { return true, h.writeDormant(reg) })
	return d, err
}

// DormantKeys returns the dormant keys of account ("" for every account).
// No registry is no keys.
func (h Host) DormantKeys(account string) ([]DormantKey, error) {
	reg, err := h.readDormant()
	if err != nil {
		return nil, err
	}
	out := []DormantKey{}
	for _, k := range reg.Keys {
		if account == "" || k.Account == account {
			out = append(out, k)
		}
	}
	return out, nil
}

// Dormant returns account's dormant key with name (or fingerprint).
func (h Host) Dormant(account, name string) (DormantKey, error) {
	keys, err := h.DormantKeys(account)
	if err != nil {
		return DormantKey{}, err
	}
	i := slices.IndexFunc(keys, func(k DormantKey) bool {
		return k.Name == name || k.Fingerprint == name || k.Fingerprint == "SHA256:"+name
	})
	if i < 0 {
		return DormantKey{}, fail.New(fail.Failed, "register it first: pfwdctl add-key --dormant --name "+name+" FRIEND.pub (list-keys shows dormant keys)",
			"%s has no dormant key %q", account, name)
	}
	return keys[i], nil
}

// readDormant reads the registry without following a symlink at its path,
// refusing anything but a regular file owned by root (on the running
// system: a registry someone else could write would name the keys root
// grants).
func (h Host) readDormant() (dormantFile, error) {
	var reg dormantFile
	p := h.Root.Path(DormantPath)
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return reg, nil
	}
	if err != nil {
		return reg, fail.Wrap(fail.Failed, err, "make "+DormantPath+" a regular file (not a symlink)", "read the dormant keys")
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return reg, err
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	if !fi.Mode().IsRegular() || (h.Root.IsHost() && st != nil && st.Uid != 0) || fi.Mode().Perm()&0o022 != 0 {
		return reg, fail.New(fail.Failed, "it must be a regular file owned by root and writable by root only; check who changed it",
			"refusing %s: not a root-owned regular file writable by root only", DormantPath)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxDormant+1))
	if err != nil {
		return reg, err
	}
	if len(data) > maxDormant {
		return reg, fail.New(fail.Failed, "", "%s is over %d bytes", DormantPath, maxDormant)
	}
	if err := json.Unmarshal(data, &reg); err != nil {
		return reg, fail.Wrap(fail.Failed, err, "", "read %s", DormantPath)
	}
	return reg, nil
}

func (h Host) writeDormant(reg dormantFile) error {
	p := h.Root.Path(DormantPath)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(reg, "", "  ")
	if err != nil {
		return err
	}
	// 0644: public keys and names; request --name reads the fingerprint.
	return hostfs.WriteFile(p, append(data, '\n'), 0o644, hostfs.RootOwner)
}

// rotateDormant replaces account's registered key oldFP by k (rotate): its
// name, targets and from= stay. false: the old key was not registered.
func (h Host) rotateDormant(account, oldFP string, k keyline.Key) (bool, error) {
	unlock, err := h.lock()
	if err != nil {
		return false, err
	}
	defer unlock()
	reg, err := h.readDormant()
	if err != nil {
		return false, err
	}
	i := slices.IndexFunc(reg.Keys, func(d DormantKey) bool { return d.Account == account && d.Fingerprint == oldFP })
	if i < 0 {
		return false, nil
	}
	d := &reg.Keys[i]
	d.Type, d.Fingerprint = k.Type(), k.Fingerprint()
	d.Key = k.Type() + " " + k.Base64() + " " + d.Name
	ev := Event{Action: ActionKeyDormant, Account: account, Fingerprint: d.Fingerprint, Name: d.Name, Path: DormantPath, Detail: "rotated in for " + oldFP}
	_, err = h.change([]Event{ev}, func() (bool, error) { return true, h.writeDormant(reg) })
	return err == nil, err
}

// dropDormant takes every registered key of account out of the registry
// (the account is deleted: a new account of the same name must not
// inherit them). It returns their names.
func (h Host) dropDormant(account string) ([]string, error) {
	unlock, err := h.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	reg, err := h.readDormant()
	if err != nil {
		return nil, err
	}
	var names []string
	var evs []Event
	keep := reg.Keys[:0]
	for _, d := range reg.Keys {
		if d.Account == account {
			names = append(names, d.Name)
			evs = append(evs, Event{Action: ActionKeyDormantRemove, Account: account, Fingerprint: d.Fingerprint, Name: d.Name, Path: DormantPath, Detail: "account deleted"})
			continue
		}
		keep = append(keep, d)
	}
	if len(evs) == 0 {
		return nil, nil
	}
	reg.Keys = keep
	_, err = h.change(evs, func() (bool, error) { return true, h.writeDormant(reg) })
	return names, err
}
