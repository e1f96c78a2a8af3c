package model_test

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/fhetune/fhetune/tuner/model"
)

// sampleNetworks returns networks that exercise every part of the file format.
func sampleNetworks(t testing.TB) map[string]*model.Network {
	t.Helper()
	mlp, err := model.Build("mlp:5,4", []int{6}, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	mlp.Standardizer = &model.Standardizer{Mean: []float64{1, 2, 3, 4, 5, 6}, Std: []float64{1, 0.5, 2, 1, 1, 3}}
	mlp.Dataset = "csv:/tmp/x.csv"
	mlp.Meta = map[string]string{"seed": "1", "test_accuracy": "0.97", "é": "ü"}

	cnn, err := model.Build("cnn:c3k3p1,pool2,c2k2s2,fc4", []int{2, 6, 6}, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	cnn, err = model.PruneUnstructured(cnn, 0.3)
	if err != nil {
		t.Fatal(err)
	}
	cnn.Dataset = "digits"

	bare := &model.Network{InShape: []int{3}, Classes: 2, Layers: []model.Layer{
		&model.Linear{W: mat.NewDense(2, 3, []float64{1, -2, 3, 0.5, 0, -1}), B: []float64{0.25, -0.75}},
	}}
	return map[string]*model.Network{"mlp": mlp, "cnn": cnn, "bare": bare, "layers": newLayersNet(t)}
}

// newLayersNet returns a network with every layer of format version 2: a dilated
// convolution, a grouped one with a mask, a max pool and each activation function.
func newLayersNet(t testing.TB) *model.Network {
	t.Helper()
	rng := rand.New(rand.NewPCG(21, 22))
	fill := func(s []float64) {
		for i := range s {
			s[i] = rng.NormFloat64()
		}
	}
	c1 := &model.Conv2d{OutC: 4, InC: 2, KH: 3, KW: 3, Stride: 1, Pad: 2, InH: 6, InW: 6, Dilation: 2,
		W: mat.NewDense(4, 18, nil), B: make([]float64, 4)}
	c2 := &model.Conv2d{OutC: 4, InC: 4, KH: 2, KW: 2, Stride: 1, InH: 3, InW: 3, Groups: 2,
		W: mat.NewDense(4, 8, nil), B: make([]float64, 4), Mask: make([]bool, 32)}
	lin := model.NewLinear(3, 16)
	for _, s := range [][]float64{c1.W.RawMatrix().Data, c1.B, c2.W.RawMatrix().Data, c2.B, lin.W.RawMatrix().Data, lin.B} {
		fill(s)
	}
	for i := range c2.Mask {
		c2.Mask[i] = i%5 != 0
		if !c2.Mask[i] {
			c2.W.RawMatrix().Data[i] = 0
		}
	}
	net := &model.Network{InShape: []int{2, 6, 6}, Classes: 3, Spec: "imported", Dataset: "digits", Layers: []model.Layer{
		c1, model.Activation{Func: model.LeakyReLU, Alpha: 0.1}, &model.MaxPool2d{K: 2, Stride: 2, C: 4, InH: 6, InW: 6},
		c2, model.Activation{Func: model.GELU}, model.Flatten{}, model.Activation{Func: model.Tanh},
		model.Activation{Func: model.Sigmoid}, lin,
	}}
	if err := net.Validate(); err != nil {
		t.Fatal(err)
	}
	return net
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for name, net := range sampleNetworks(t) {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name+".bin")
			if err := model.Save(path, net); err != nil {
				t.Fatal(err)
			}
			got, err := model.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			a, _ := net.MarshalBinary()
			b, _ := got.MarshalBinary()
			if string(a) != string(b) {
				t.Error("re-encoded network differs from the saved one")
			}
			if got.Spec != net.Spec || got.Dataset != net.Dataset || len(got.Meta) != len(net.Meta) {
				t.Errorf("metadata: got %q %q %v, want %q %q %v", got.Spec, got.Dataset, got.Meta, net.Spec, net.Dataset, net.Meta)
			}
			x := randomBatch(3, 4, net.InSize())
			if !mat.Equal(got.Logits(x), net.Logits(x)) {
				t.Error("loaded network computes other logits")
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o644 {
				t.Errorf("file mode %v, want 0644", st.Mode().Perm())
			}
		})
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

// fixCRC rewrites the body length and checksum of a model file after an edit.
func fixCRC(b []byte) []byte {
	b = append([]byte(nil), b...)
	if len(b) < 24 {
		return b
	}
	binary.LittleEndian.PutUint64(b[12:20], uint64(len(b)-24))
	binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.ChecksumIEEE(b[:len(b)-4]))
	return b
}

func TestLoadErrors(t *testing.T) {
	// bare: spec "" and data set "" (4+4 bytes), meta count 4, classes 4, rank 4 + 4,
	// standardizer flag 1, layer count 4: the first layer record starts at 20+29.
	bare := sampleNetworks(t)["bare"]
	good, err := bare.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	const layer0 = 20 + 4 + 4 + 4 + 4 + 4 + 4 + 1 + 4
	if good[layer0] != 1 {
		t.Fatalf("layout changed: byte %d is %d, want the linear kind 1", layer0, good[layer0])
	}
	edit := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	nan := make([]byte, 8)
	binary.LittleEndian.PutUint64(nan, math.Float64bits(math.NaN()))
	cases := []struct {
		name string
		data []byte
		is   error
		want string
	}{
		{"empty", nil, model.ErrFormat, "byte 0: truncated: 0 bytes"},
		{"wrong magic", []byte("PK\x03\x04 this is a zip file, not a model"), model.ErrFormat, `not an fhetune model file (magic "PK\x03\x04 thi", want "FHTMODEL")`},
		{"short wrong magic", []byte("GIF89a12"), model.ErrFormat, "not an fhetune model file"},
		{"future version", edit(func(b []byte) []byte { b[8] = 3; return b }), model.ErrVersion, "byte 8: format version 3 is not supported (this build reads versions 1 to 2)"},
		{"version 0", edit(func(b []byte) []byte { b[8] = 0; return b }), model.ErrVersion, "format version 0 is not supported"},
		{"header only", good[:20], model.ErrFormat, "truncated"},
		{"cut in the body", good[:len(good)/2], model.ErrFormat, "truncated"},
		{"cut in the checksum", good[:len(good)-1], model.ErrFormat, "truncated"},
		{"trailing bytes", append(append([]byte(nil), good...), 1, 2, 3), model.ErrFormat, "3 unexpected bytes after the checksum"},
		{"flipped bit", edit(func(b []byte) []byte { b[layer0+20] ^= 0x10; return b }), model.ErrFormat, "checksum mismatch"},
		{"unknown layer kind", fixCRC(edit(func(b []byte) []byte { b[layer0] = 9; return b })), model.ErrFormat,
			"byte 49: layer 0 has unknown kind 9"},
		{"NaN weight", fixCRC(edit(func(b []byte) []byte { copy(b[layer0+10:], nan); return b })), model.ErrFormat,
			"byte 59: layer 0 weights (2×3) entry 0 is NaN"},
		{"bad mask flag", fixCRC(edit(func(b []byte) []byte { b[layer0+9] = 7; return b })), model.ErrFormat, "layer 0 mask flag 7"},
		{"classes mismatch", fixCRC(edit(func(b []byte) []byte { b[20+12] = 3; return b })), model.ErrFormat,
			"the layers do not fit together: model: shape mismatch: last layer gives shape [2], want [3]"},
		{"huge layer", fixCRC(edit(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[layer0+1:], 60000); return b })), model.ErrFormat,
			"layer 0 weights (60000×3) needs 1440000 bytes, only"},
		{"size out of range", fixCRC(edit(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[layer0+5:], 1<<20); return b })), model.ErrFormat,
			"byte 54: layer 0 inputs 1048576 out of range [1, 65536]"},
		{"body too long", fixCRC(append(append([]byte(nil), good...), 0)), model.ErrFormat, "1 unread bytes at the end of the body"},
	}
	dir := t.TempDir()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".bin")
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := model.Load(path)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %v does not match %v", err, tc.is)
			}
			var fe *model.FormatError
			if !errors.As(err, &fe) || fe.Path != path {
				t.Errorf("error %v is not a FormatError naming %s", err, path)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name the file and say %q", err, tc.want)
			}
			var n model.Network
			if err := n.UnmarshalBinary(tc.data); err == nil || !strings.Contains(err.Error(), "model data") {
				t.Errorf("UnmarshalBinary error %v, want one about model data", err)
			}
		})
	}
}

func TestLoadMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.bin")
	_, err := model.Load(path)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("error %v, want fs.ErrNotExist naming %s", err, path)
	}
}

func TestSaveAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.bin")
	good := sampleNetworks(t)["bare"]
	if err := model.Save(path, good); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)

	broken := good.Clone()
	broken.Classes = 5 // does not match the last layer
	if err := model.Save(path, broken); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("saving an invalid network: error %v, want one naming %s", err, path)
	}
	after, _ := os.ReadFile(path)
	if string(before) != string(after) {
		t.Error("a failed save changed the existing file")
	}
	if err := model.Save(filepath.Join(dir, "no", "such", "dir", "m.bin"), good); err == nil {
		t.Error("saving into a missing folder succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("folder holds %v, want only m.bin", names)
	}
}

// TestSaveLoadNewLayers checks that every field of the version-2 layers survives a
// round trip, beyond the logits.
func TestSaveLoadNewLayers(t *testing.T) {
	net := newLayersNet(t)
	b, err := net.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if v := binary.LittleEndian.Uint32(b[8:12]); v != model.FormatVersion || model.FormatVersion != 2 {
		t.Fatalf("written version %d, FormatVersion %d; want 2", v, model.FormatVersion)
	}
	var got model.Network
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	for i, l := range net.Layers {
		switch l := l.(type) {
		case *model.Conv2d:
			g := got.Layers[i].(*model.Conv2d)
			if g.Dil() != l.Dil() || g.NumGroups() != l.NumGroups() || !mat.Equal(g.W, l.W) || len(g.Mask) != len(l.Mask) {
				t.Errorf("layer %d: conv dilation %d groups %d, want %d %d (or weights differ)", i, g.Dilation, g.Groups, l.Dil(), l.NumGroups())
			}
		case *model.MaxPool2d:
			if g := got.Layers[i].(*model.MaxPool2d); *g != *l {
				t.Errorf("layer %d: %+v, want %+v", i, *g, *l)
			}
		case model.Activation:
			if g := got.Layers[i].(model.Activation); g != l {
				t.Errorf("layer %d: %+v, want %+v", i, g, l)
			}
		}
	}
	x := randomBatch(8, 5, net.InSize())
	if !mat.Equal(got.Logits(x), net.Logits(x)) {
		t.Error("loaded network computes other logits")
	}
	// A dilation and a group count of 0 mean 1 and are written as 1.
	ones := net.Clone()
	ones.Layers[0].(*model.Conv2d).Groups = 1
	ones.Layers[3].(*model.Conv2d).Dilation = 1
	zeros := ones.Clone()
	zeros.Layers[0].(*model.Conv2d).Groups = 0
	zeros.Layers[3].(*model.Conv2d).Dilation = 0
	a, err1 := ones.MarshalBinary()
	z, err2 := zeros.MarshalBinary()
	if err1 != nil || err2 != nil || string(a) != string(z) || string(a) != string(b) {
		t.Errorf("groups and dilation 0 encode differently from 1 (%v, %v)", err1, err2)
	}
}

// readSeed reads a committed fuzz seed file: one []byte(...) Go string literal.
func readSeed(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzUnmarshal", name))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	lit := strings.TrimSuffix(strings.TrimPrefix(lines[len(lines)-1], "[]byte("), ")")
	s, err := strconv.Unquote(lit)
	if err != nil {
		t.Fatalf("seed %s: %v", name, err)
	}
	return []byte(s)
}

// TestLoadVersion1 loads a version-1 file committed before version 2 existed (the CNN of
// sampleNetworks, saved by the version-1 writer): it decodes with Dilation = Groups = 1,
// computes what the same network built today computes, and re-encodes as version 2.
func TestLoadVersion1(t *testing.T) {
	old := readSeed(t, "valid_cnn")
	if v := binary.LittleEndian.Uint32(old[8:12]); v != 1 {
		t.Fatalf("fixture has version %d, want 1", v)
	}
	path := filepath.Join(t.TempDir(), "v1.bin")
	if err := os.WriteFile(path, old, 0o644); err != nil {
		t.Fatal(err)
	}
	net, err := model.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	convs := 0
	for i, l := range net.Layers {
		if c, ok := l.(*model.Conv2d); ok {
			convs++
			if c.Dilation != 1 || c.Groups != 1 {
				t.Errorf("layer %d: dilation %d, groups %d; want 1, 1", i, c.Dilation, c.Groups)
			}
		}
	}
	if convs != 2 {
		t.Fatalf("%d convolutions, want 2", convs)
	}
	today := sampleNetworks(t)["cnn"]
	x := randomBatch(6, 4, net.InSize())
	if !mat.Equal(net.Logits(x), today.Logits(x)) {
		t.Error("the version-1 network computes other logits than the same network built today")
	}
	b, err := net.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := today.MarshalBinary()
	if binary.LittleEndian.Uint32(b[8:12]) != 2 || string(b) != string(want) {
		t.Error("a version-1 network does not re-encode as the version-2 file of the same network")
	}
	// Kinds 6 and 7 do not exist in version 1.
	bare := readSeed(t, "valid_bare")
	const layer0 = 20 + 4 + 4 + 4 + 4 + 4 + 4 + 1 + 4
	bad := append([]byte(nil), bare...)
	bad[layer0] = 7
	var n model.Network
	if err := n.UnmarshalBinary(fixCRC(bad)); !errors.Is(err, model.ErrFormat) || !strings.Contains(err.Error(), "a version-1 file has") {
		t.Errorf("kind 7 in a version-1 file: %v", err)
	}
}
