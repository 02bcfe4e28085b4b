// checknote opens a Hanpyo checkpoint with Go's reference signed-note code
// (golang.org/x/mod/sumdb/note): the log's Ed25519 signature through note.NewVerifier, and
// each witness's cosignature through a note.Verifier written here from C2SP
// tlog-cosignature ("Format", "Ed25519 signed message"), since x/mod's NewVerifier only
// knows signature type 0x01.
//
// Usage: checknote -note FILE -log VKEY [-witness VKEY]...
// Prints one line per verified signature: "verified <name>" or "cosigned <name> <time>".
package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

// cosigner is a note.Verifier for tlog-cosignature/v1 Ed25519 cosignatures (type 0x04).
type cosigner struct {
	name string
	hash uint32
	key  ed25519.PublicKey
	seen *uint64 // the timestamp of the cosignature that verified
}

func (c *cosigner) Name() string    { return c.name }
func (c *cosigner) KeyHash() uint32 { return c.hash }

// Verify checks sig = u64 timestamp || Ed25519 signature over
// "cosignature/v1\ntime <timestamp>\n" || the checkpoint text.
func (c *cosigner) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig[:8])
	if t == 0 || t > 1<<63-1 {
		return false
	}
	signed := append([]byte("cosignature/v1\ntime "+strconv.FormatUint(t, 10)+"\n"), msg...)
	if !ed25519.Verify(c.key, signed, sig[8:]) {
		return false
	}
	*c.seen = t
	return true
}

func newCosigner(vkey string) (*cosigner, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return nil, errors.New("malformed witness vkey")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 33 || raw[0] != 0x04 {
		return nil, errors.New("not a cosignature/v1 Ed25519 key (type 0x04)")
	}
	// key ID = SHA-256(name || "\n" || 0x04 || public key)[:4]
	h := sha256.Sum256(append([]byte(parts[0]+"\n"), raw...))
	hash := binary.BigEndian.Uint32(h[:4])
	if fmt.Sprintf("%08x", hash) != parts[1] {
		return nil, errors.New("witness key id does not match its name and key")
	}
	var seen uint64
	return &cosigner{name: parts[0], hash: hash, key: ed25519.PublicKey(raw[1:]), seen: &seen}, nil
}

func main() {
	notePath := flag.String("note", "", "the signed checkpoint")
	logKey := flag.String("log", "", "the log's vkey")
	var witnesses list
	flag.Var(&witnesses, "witness", "a witness's cosignature/v1 vkey (repeat)")
	flag.Parse()
	msg, err := os.ReadFile(*notePath)
	check(err)
	logVerifier, err := note.NewVerifier(*logKey)
	check(err)
	verifiers := []note.Verifier{logVerifier}
	var cosigners []*cosigner
	for _, w := range witnesses {
		if _, err := note.NewVerifier(w); err == nil {
			fmt.Println("x/mod/sumdb/note accepted a type 0x04 key") // it should not
		}
		c, err := newCosigner(w)
		check(err)
		cosigners = append(cosigners, c)
		verifiers = append(verifiers, c)
	}
	n, err := note.Open(msg, note.VerifierList(verifiers...))
	check(err)
	for _, s := range n.Sigs {
		if s.Name == logVerifier.Name() && s.Hash == logVerifier.KeyHash() {
			fmt.Printf("verified %s\n", s.Name)
		}
	}
	for _, c := range cosigners {
		if *c.seen != 0 {
			fmt.Printf("cosigned %s %d\n", c.name, *c.seen)
		}
	}
	fmt.Printf("text %q\n", n.Text)
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "checknote:", err)
		os.Exit(1)
	}
}
