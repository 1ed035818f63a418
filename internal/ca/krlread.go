package ca

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"

	"golang.org/x/crypto/ssh"
)

// A KRL as sshd reads it (OpenSSH's PROTOCOL.krl), parsed so that what
// ca revoke reports rests on the file, not on ssh-keygen's exit status: a
// revocation is "done" only once the written KRL is read back and holds it.
// Only reading: the file itself is always written by ssh-keygen -k.
type KRL struct {
	Version uint64
	certs   []krlCerts
	keys    map[string]bool // explicit plain-key blobs
	sha1    map[string]bool
	sha256  map[string]bool
}

// krlCerts is one certificates section: the CA whose certificates it
// revokes (nil: any CA) and what it revokes.
type krlCerts struct {
	ca      []byte
	serials map[uint64]bool
	ranges  [][2]uint64
	bitmaps []krlBitmap
	ids     map[string]bool
}

type krlBitmap struct {
	offset uint64
	bits   *big.Int
}

const krlMagic = "SSHKRL\n\x00"

// errKRL is every malformed-KRL error: sshd refuses a KRL it cannot
// parse (and with it every key), so a caller must say so, not guess.
var errKRL = errors.New("not a valid OpenSSH KRL")

// ParseKRL reads a KRL file's bytes. Unknown non-critical extensions are
// skipped, as sshd skips them; a critical one, or anything malformed, is
// an error.
func ParseKRL(data []byte) (*KRL, error) {
	r := krlReader{b: data}
	if !bytes.HasPrefix(data, []byte(krlMagic)) {
		return nil, fmt.Errorf("%w: no SSHKRL header", errKRL)
	}
	r.b = r.b[len(krlMagic):]
	if v := r.u32(); v != 1 {
		return nil, fmt.Errorf("%w: format version %d", errKRL, v)
	}
	k := &KRL{Version: r.u64(), keys: map[string]bool{}, sha1: map[string]bool{}, sha256: map[string]bool{}}
	r.u64() // generated_date
	r.u64() // flags
	r.str() // reserved
	r.str() // comment
	for r.err == nil && len(r.b) > 0 {
		typ := r.byte()
		if typ == 4 { // KRL_SECTION_SIGNATURE: what follows is signatures only
			break
		}
		sec := krlReader{b: r.str()}
		if r.err != nil {
			break
		}
		switch typ {
		case 1:
			c, err := parseCertSection(&sec)
			if err != nil {
				return nil, err
			}
			k.certs = append(k.certs, c)
		case 2, 3, 5:
			m := map[byte]map[string]bool{2: k.keys, 3: k.sha1, 5: k.sha256}[typ]
			for sec.err == nil && len(sec.b) > 0 {
				m[string(sec.str())] = true
			}
		case 255:
			if err := skipExtension(&sec); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%w: unknown section type %d", errKRL, typ)
		}
		if sec.err != nil {
			return nil, sec.err
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return k, nil
}

func parseCertSection(r *krlReader) (krlCerts, error) {
	c := krlCerts{ca: r.str(), serials: map[uint64]bool{}, ids: map[string]bool{}}
	r.str() // reserved
	for r.err == nil && len(r.b) > 0 {
		typ := r.byte()
		sub := krlReader{b: r.str()}
		if r.err != nil {
			break
		}
		switch typ {
		case 0x20:
			for sub.err == nil && len(sub.b) > 0 {
				c.serials[sub.u64()] = true
			}
		case 0x21:
			lo, hi := sub.u64(), sub.u64()
			c.ranges = append(c.ranges, [2]uint64{lo, hi})
		case 0x22:
			off := sub.u64()
			mp := sub.str()
			if len(mp) > 0 && mp[0]&0x80 != 0 {
				return c, fmt.Errorf("%w: negative serial bitmap", errKRL)
			}
			c.bitmaps = append(c.bitmaps, krlBitmap{offset: off, bits: new(big.Int).SetBytes(mp)})
		case 0x23:
			for sub.err == nil && len(sub.b) > 0 {
				c.ids[string(sub.str())] = true
			}
		case 0x39:
			if err := skipExtension(&sub); err != nil {
				return c, err
			}
		default:
			return c, fmt.Errorf("%w: unknown certificate section type %#x", errKRL, typ)
		}
		if sub.err != nil {
			return c, sub.err
		}
	}
	if r.err != nil {
		return c, r.err
	}
	return c, nil
}

func skipExtension(r *krlReader) error {
	name := r.str()
	critical := r.byte()
	r.str()
	if r.err == nil && critical != 0 {
		return fmt.Errorf("%w: critical extension %q pfwdctl does not know", errKRL, name)
	}
	return r.err
}

// sections are the certificate sections that apply to certificates signed
// by caBlob: its own and the any-CA ones.
func (k *KRL) sections(caBlob []byte) []krlCerts {
	var out []krlCerts
	for _, c := range k.certs {
		if len(c.ca) == 0 || bytes.Equal(c.ca, caBlob) {
			out = append(out, c)
		}
	}
	return out
}

// SerialRevoked reports whether certificates with serial from the CA are
// revoked (serial 0 never is: OpenSSH cannot revoke it by serial).
func (k *KRL) SerialRevoked(caKey ssh.PublicKey, serial uint64) bool {
	if serial == 0 {
		return false
	}
	for _, c := range k.sections(caKey.Marshal()) {
		if c.serials[serial] {
			return true
		}
		for _, rg := range c.ranges {
			if serial >= rg[0] && serial <= rg[1] {
				return true
			}
		}
		for _, b := range c.bitmaps {
			if serial >= b.offset && serial-b.offset < uint64(b.bits.BitLen()) && b.bits.Bit(int(serial-b.offset)) == 1 {
				return true
			}
		}
	}
	return false
}

// IDRevoked reports whether certificates with key id from the CA are revoked.
func (k *KRL) IDRevoked(caKey ssh.PublicKey, id string) bool {
	for _, c := range k.sections(caKey.Marshal()) {
		if c.ids[id] {
			return true
		}
	}
	return false
}

// KeyRevoked reports whether the plain key is revoked (explicitly or by
// its SHA1 or SHA256 hash).
func (k *KRL) KeyRevoked(pub ssh.PublicKey) bool {
	blob := pub.Marshal()
	s1, s256 := sha1.Sum(blob), sha256.Sum256(blob)
	return k.keys[string(blob)] || k.sha1[string(s1[:])] || k.sha256[string(s256[:])]
}

// CertRevoked reports whether sshd refuses the certificate by this KRL
// (krl.c's ssh_krl_check_key): its serial or id under its CA, its CA key,
// or the certified key itself.
func (k *KRL) CertRevoked(c *ssh.Certificate) bool {
	return k.SerialRevoked(c.SignatureKey, c.Serial) || k.IDRevoked(c.SignatureKey, c.KeyId) ||
		k.KeyRevoked(c.SignatureKey) || k.KeyRevoked(c.Key)
}

// krlReader reads SSH wire types; the first short read sets err and
// every later read returns zero values.
type krlReader struct {
	b   []byte
	err error
}

func (r *krlReader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b) < n {
		r.err = fmt.Errorf("%w: truncated", errKRL)
		r.b = nil
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *krlReader) byte() byte {
	if v := r.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *krlReader) u32() uint32 {
	if v := r.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *krlReader) u64() uint64 {
	if v := r.take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (r *krlReader) str() []byte {
	n := r.u32()
	if r.err != nil {
		return nil
	}
	if uint64(n) > uint64(len(r.b)) {
		r.err = fmt.Errorf("%w: truncated", errKRL)
		r.b = nil
		return nil
	}
	return r.take(int(n))
}
