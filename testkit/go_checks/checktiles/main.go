// checktiles proves leaves and older trees from a Hanpyo tiles directory (C2SP tlog-tiles)
// with Go's reference transparency-log code, golang.org/x/mod/sumdb/tlog: the checkpoint is
// opened with x/mod/sumdb/note, tiles are read through tlog.TileHashReader (which
// authenticates every tile against the checkpoint's root), inclusion proofs come from
// tlog.ProveRecord / tlog.CheckRecord and consistency proofs from tlog.ProveTree /
// tlog.CheckTree.
//
// tlog-tiles paths are x/mod's with the height dropped: tile/8/<L>/<N> is tile/<L>/<N>.
//
// Usage: checktiles -dir DIR -log VKEY [-leaf I]... [-old N]...
// Prints "tree <size> <root>", "leaf <i> ok <entry length> <proof>", "old <n> <root> <proof>",
// each proof as base64 hashes joined by commas.
package main

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const height = 8 // tlog-tiles: every tile is a subtree of height 8

type ints []int64

func (l *ints) String() string { return fmt.Sprint(*l) }
func (l *ints) Set(v string) error {
	n, err := strconv.ParseInt(v, 10, 64)
	*l = append(*l, n)
	return err
}

// dirTiles is a tlog.TileReader over a tiles directory.
type dirTiles struct{ dir string }

func (d dirTiles) Height() int { return height }

func (d dirTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		data, err := os.ReadFile(filepath.Join(d.dir, c2spPath(t)))
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}

func (d dirTiles) SaveTiles([]tlog.Tile, [][]byte) {}

func c2spPath(t tlog.Tile) string {
	return strings.Replace(t.Path(), fmt.Sprintf("tile/%d/", height), "tile/", 1)
}

// entry reads leaf i from its entry bundle: big-endian uint16 length-prefixed entries.
func entry(dir string, i, size int64) ([]byte, error) {
	t := tlog.TileForIndex(height, tlog.StoredHashIndex(0, i))
	t.L = -1 // x/mod's data tiles
	if w := size - t.N<<height; w < 1<<height {
		t.W = int(w)
	} else {
		t.W = 1 << height
	}
	path := strings.Replace(c2spPath(t), "tile/data/", "tile/entries/", 1)
	data, err := os.ReadFile(filepath.Join(dir, path))
	if err != nil {
		return nil, err
	}
	for k := int64(0); len(data) >= 2; k++ {
		n := int(binary.BigEndian.Uint16(data))
		if len(data) < 2+n {
			return nil, errors.New("bundle ends inside an entry")
		}
		if k == i-t.N<<height {
			return data[2 : 2+n], nil
		}
		data = data[2+n:]
	}
	return nil, errors.New("leaf not in its bundle")
}

func main() {
	dir := flag.String("dir", "", "the tiles directory")
	logKey := flag.String("log", "", "the log's vkey")
	var leaves, olds ints
	flag.Var(&leaves, "leaf", "a leaf index to prove (repeat)")
	flag.Var(&olds, "old", "an older tree size to prove consistent (repeat)")
	flag.Parse()

	msg, err := os.ReadFile(filepath.Join(*dir, "checkpoint"))
	check(err)
	verifier, err := note.NewVerifier(*logKey)
	check(err)
	n, err := note.Open(msg, note.VerifierList(verifier))
	check(err)
	// tlog-checkpoint: origin, decimal size, base64 root hash, then extension lines.
	lines := strings.Split(n.Text, "\n")
	size, err := strconv.ParseInt(lines[1], 10, 64)
	check(err)
	rootBytes, err := base64.StdEncoding.DecodeString(lines[2])
	check(err)
	var tree tlog.Tree
	tree.N = size
	copy(tree.Hash[:], rootBytes)
	reader := tlog.TileHashReader(tree, dirTiles{*dir})
	root, err := tlog.TreeHash(size, reader)
	check(err)
	if root != tree.Hash {
		check(errors.New("the tiles do not hash to the checkpoint's root"))
	}
	fmt.Printf("tree %d %s\n", size, root)

	for _, i := range leaves {
		data, err := entry(*dir, i, size)
		check(err)
		proof, err := tlog.ProveRecord(size, i, reader)
		check(err)
		check(tlog.CheckRecord(proof, size, tree.Hash, i, tlog.RecordHash(data)))
		fmt.Printf("leaf %d ok %d %s\n", i, len(data), joined(proof))
	}
	for _, old := range olds {
		oldRoot, err := tlog.TreeHash(old, reader)
		check(err)
		proof, err := tlog.ProveTree(size, old, reader)
		check(err)
		check(tlog.CheckTree(proof, size, tree.Hash, old, oldRoot))
		fmt.Printf("old %d %s %s\n", old, oldRoot, joined(proof))
	}
}

// joined is a proof as base64 hashes joined by commas ("-" when empty).
func joined(proof []tlog.Hash) string {
	if len(proof) == 0 {
		return "-"
	}
	parts := make([]string, len(proof))
	for i, h := range proof {
		parts[i] = h.String()
	}
	return strings.Join(parts, ",")
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "checktiles:", err)
		os.Exit(1)
	}
}
