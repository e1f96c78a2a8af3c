package model_test

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
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

	"github.com/fhetune/fhetune/fhe/circuit"
	"github.com/fhetune/fhetune/tuner/model"
)

var update = flag.Bool("update", false, "rewrite the committed version-3 fuzz seed valid_qat_v3 from newQATNet")

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
	nets := map[string]*model.Network{"mlp": mlp, "cnn": cnn, "bare": bare, "layers": newLayersNet(t), "qat_layers": newQATNet(t)}
	for name, net := range qatNetworks(t) {
		nets[name] = net
	}
	return nets
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
		{"future version", edit(func(b []byte) []byte { b[8] = 4; return b }), model.ErrVersion, "byte 8: format version 4 is not supported (this build reads versions 1 to 3)"},
		{"version 0", edit(func(b []byte) []byte { b[8] = 0; return b }), model.ErrVersion, "format version 0 is not supported"},
		{"header only", good[:20], model.ErrFormat, "truncated"},
		{"cut in the body", good[:len(good)/2], model.ErrFormat, "truncated"},
		{"cut in the checksum", good[:len(good)-1], model.ErrFormat, "truncated"},
		{"trailing bytes", append(append([]byte(nil), good...), 1, 2, 3), model.ErrFormat, "3 unexpected bytes after the checksum"},
		{"flipped bit", edit(func(b []byte) []byte { b[layer0+20] ^= 0x10; return b }), model.ErrFormat, "checksum mismatch"},
		{"unknown layer kind", fixCRC(edit(func(b []byte) []byte { b[layer0] = 9; return b })), model.ErrFormat,
			"byte 49: layer 0 has unknown kind 9 (want 1 linear, 2 conv2d, 3 avgpool2d, 4 relu, 5 flatten, 6 activation, 7 maxpool2d, 8 quant)"},
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
	if v := binary.LittleEndian.Uint32(b[8:12]); v != model.FormatVersion || model.FormatVersion != 3 {
		t.Fatalf("written version %d, FormatVersion %d; want 3", v, model.FormatVersion)
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
// computes what the same network built today computes, and re-encodes as the current
// version.
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
	if binary.LittleEndian.Uint32(b[8:12]) != model.FormatVersion || string(b) != string(want) {
		t.Error("a version-1 network does not re-encode as the current file of the same network")
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

// qatNetworks returns quantization-aware networks made by PrepareQAT (power-of-two
// scales, integer biases and accumulator pruning, so masks too): an MLP and a CNN.
func qatNetworks(t testing.TB) map[string]*model.Network {
	t.Helper()
	cfg := model.QATConfig{NWBits: 3, NABits: 3, PowerOfTwo: true, AccumBits: 12}
	out := map[string]*model.Network{}
	for _, c := range []struct {
		name, spec string
		shape      []int
	}{
		{"qat_mlp", "mlp:16", []int{8}},
		{"qat_cnn", "cnn:c4k3p1,pool2,fc8", []int{1, 8, 8}},
	} {
		net, err := model.Build(c.spec, c.shape, 3, 1)
		if err != nil {
			t.Fatal(err)
		}
		q, err := model.PrepareQAT(net, randomBatch(31, 64, net.InSize()), cfg)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		q.Spec, q.Dataset = c.spec, "random"
		out[c.name] = q
	}
	return out
}

// newQATNet returns a small hand-built quantization-aware network with every field of
// format version 3 set: quant layers with and without power-of-two scales, a quantized
// convolution and a quantized, masked linear layer with an integer bias limit.
func newQATNet(t testing.TB) *model.Network {
	t.Helper()
	rng := rand.New(rand.NewPCG(41, 42))
	fill := func(s []float64) {
		for i := range s {
			s[i] = rng.NormFloat64()
		}
	}
	c := &model.Conv2d{OutC: 2, InC: 1, KH: 2, KW: 2, Stride: 1, InH: 4, InW: 4,
		W: mat.NewDense(2, 4, nil), B: make([]float64, 2), Quant: &circuit.WeightQuant{Bits: 3}}
	lin := &model.Linear{W: mat.NewDense(2, 18, nil), B: make([]float64, 2), Mask: make([]bool, 36),
		Quant: &circuit.WeightQuant{Bits: 2, PowerOfTwo: true, IntBias: true, BiasLimit: 40}}
	for _, s := range [][]float64{c.W.RawMatrix().Data, c.B, lin.W.RawMatrix().Data, lin.B} {
		fill(s)
	}
	for i := range lin.Mask {
		lin.Mask[i] = i%4 != 1
		if !lin.Mask[i] {
			lin.W.RawMatrix().Data[i] = 0
		}
	}
	net := &model.Network{InShape: []int{1, 4, 4}, Classes: 2, Spec: "imported", Dataset: "random", Layers: []model.Layer{
		&model.Quant{Bits: 4, Lo: -1.5, Hi: 2.25}, c, model.ReLU{},
		&model.Quant{Bits: 3, PowerOfTwo: true, Lo: 0, Hi: 1.75}, model.Flatten{}, lin,
	}}
	if err := net.Validate(); err != nil {
		t.Fatal(err)
	}
	return net
}

// sameBits reports whether a and b hold the same float64s, bit for bit.
func sameBits(a, b *mat.Dense) bool {
	ar, ac := a.Dims()
	br, bc := b.Dims()
	if ar != br || ac != bc {
		return false
	}
	for i := range ar {
		for j := range ac {
			if math.Float64bits(a.At(i, j)) != math.Float64bits(b.At(i, j)) {
				return false
			}
		}
	}
	return true
}

// TestSaveLoadQAT checks that quantization-aware networks survive a round trip exactly:
// every quantizer field (ranges bit for bit), the same forward pass to the last bit, and
// the same bytes when the loaded network is encoded again.
func TestSaveLoadQAT(t *testing.T) {
	nets := qatNetworks(t)
	nets["qat_layers"] = newQATNet(t)
	for name, net := range nets {
		t.Run(name, func(t *testing.T) {
			if !net.Quantized() {
				t.Fatal("the network is not quantization-aware")
			}
			b, err := net.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if v := binary.LittleEndian.Uint32(b[8:12]); v != 3 {
				t.Fatalf("written version %d, want 3", v)
			}
			path := filepath.Join(t.TempDir(), "qat.bin")
			if err := model.Save(path, net); err != nil {
				t.Fatal(err)
			}
			got, err := model.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Layers) != len(net.Layers) {
				t.Fatalf("%d layers, want %d", len(got.Layers), len(net.Layers))
			}
			quants, wqs := 0, 0
			for i, l := range net.Layers {
				var want, have *circuit.WeightQuant
				switch l := l.(type) {
				case *model.Quant:
					quants++
					g, ok := got.Layers[i].(*model.Quant)
					if !ok || g.Bits != l.Bits || g.PowerOfTwo != l.PowerOfTwo ||
						math.Float64bits(g.Lo) != math.Float64bits(l.Lo) || math.Float64bits(g.Hi) != math.Float64bits(l.Hi) {
						t.Errorf("layer %d: %#v, want %+v", i, got.Layers[i], *l)
					}
					continue
				case *model.Linear:
					want, have = l.Quant, got.Layers[i].(*model.Linear).Quant
				case *model.Conv2d:
					want, have = l.Quant, got.Layers[i].(*model.Conv2d).Quant
				default:
					continue
				}
				if want != nil {
					wqs++
				}
				if (want == nil) != (have == nil) || want != nil && *want != *have {
					t.Errorf("layer %d: weight quantizer %v, want %v", i, have, want)
				}
			}
			if quants == 0 || wqs == 0 {
				t.Fatalf("%d quant layers, %d weight quantizers: the test network has nothing to check", quants, wqs)
			}
			x := randomBatch(32, 16, net.InSize())
			if !sameBits(got.Forward(x), net.Forward(x)) {
				t.Error("the loaded network's forward pass differs")
			}
			again, err := got.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if string(again) != string(b) {
				t.Error("the loaded network encodes to other bytes")
			}
		})
	}
}

// TestQATFileGolden pins the version-3 layout: newQATNet encodes to the committed fuzz
// seed valid_qat_v3, byte for byte, and the seed decodes to a network computing the
// same. Run `go test ./tuner/model -run TestQATFileGolden -update` to rewrite the seed
// after a deliberate format change (which needs a new FormatVersion).
func TestQATFileGolden(t *testing.T) {
	net := newQATNet(t)
	b, err := net.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		seed := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join("testdata", "fuzz", "FuzzUnmarshal", "valid_qat_v3"), []byte(seed), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden := readSeed(t, "valid_qat_v3")
	if string(golden) != string(b) {
		t.Fatal("newQATNet no longer encodes to testdata/fuzz/FuzzUnmarshal/valid_qat_v3 (the version-3 layout changed?)")
	}
	var got model.Network
	if err := got.UnmarshalBinary(golden); err != nil {
		t.Fatal(err)
	}
	x := randomBatch(33, 8, net.InSize())
	if !sameBits(got.Forward(x), net.Forward(x)) {
		t.Error("the committed network's forward pass differs from newQATNet's")
	}
}

// TestLoadVersion2 loads a version-2 file committed before version 3 existed (newLayersNet
// saved by the version-2 writer): its records have no weight quantizer, it computes what
// the same network built today computes, and it re-encodes as the current version.
func TestLoadVersion2(t *testing.T) {
	old := readSeed(t, "valid_layers_v2")
	if v := binary.LittleEndian.Uint32(old[8:12]); v != 2 {
		t.Fatalf("fixture has version %d, want 2", v)
	}
	path := filepath.Join(t.TempDir(), "v2.bin")
	if err := os.WriteFile(path, old, 0o644); err != nil {
		t.Fatal(err)
	}
	net, err := model.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if net.Quantized() {
		t.Error("a version-2 network decodes as quantization-aware")
	}
	today := newLayersNet(t)
	x := randomBatch(7, 4, net.InSize())
	if !sameBits(net.Logits(x), today.Logits(x)) {
		t.Error("the version-2 network computes other logits than the same network built today")
	}
	b, err := net.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := today.MarshalBinary()
	if binary.LittleEndian.Uint32(b[8:12]) != model.FormatVersion || string(b) != string(want) {
		t.Error("a version-2 network does not re-encode as the current file of the same network")
	}
}

// TestLoadQATErrors checks the errors for corrupt quant layers and weight quantizers:
// each names the byte offset, the field and what is allowed.
func TestLoadQATErrors(t *testing.T) {
	// The first layer record starts at byte 49 (see TestLoadErrors): quant kind 49, bits
	// 50, flags 51, lo 52, hi 60; linear kind 68, out 69, in 73, mask flag 77, 6 weights
	// from 78, 2 biases from 126, weight quantizer flag 142, bits 143, flags 144,
	// bias_limit 145 .. 152, then the checksum.
	net := &model.Network{InShape: []int{3}, Classes: 2, Layers: []model.Layer{
		&model.Quant{Bits: 4, Lo: -1, Hi: 2},
		&model.Linear{W: mat.NewDense(2, 3, []float64{1, -2, 3, 0.5, 0, -1}), B: []float64{0.25, -0.75},
			Quant: &circuit.WeightQuant{Bits: 3, PowerOfTwo: true, IntBias: true, BiasLimit: 100}},
	}}
	good, err := net.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(good) != 157 || good[49] != 8 || good[68] != 1 || good[142] != 1 || good[145] != 100 {
		t.Fatalf("layout changed: %d bytes, kinds %d %d, weight quantizer flag %d, bias limit byte %d",
			len(good), good[49], good[68], good[142], good[145])
	}
	edit := func(f func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		f(b)
		return fixCRC(b)
	}
	putF := func(off int, v float64) []byte {
		return edit(func(b []byte) { binary.LittleEndian.PutUint64(b[off:], math.Float64bits(v)) })
	}
	// A quantized linear layer after another one: nothing quantizes its input.
	twice := &model.Network{InShape: []int{3}, Classes: 2, Layers: []model.Layer{
		net.Layers[0], &model.Linear{W: mat.NewDense(3, 3, nil), B: make([]float64, 3), Quant: &circuit.WeightQuant{Bits: 3}},
		&model.Linear{W: mat.NewDense(2, 3, nil), B: make([]float64, 2)},
	}}
	unquantized, err := twice.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	body := unquantized[:len(unquantized)-4]
	if body[len(body)-1] != 0 {
		t.Fatal("layout changed: the last record does not end with an absent weight quantizer")
	}
	quantized := append(append(append([]byte(nil), body[:len(body)-1]...), 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0), 0, 0, 0, 0)

	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"quant bits 0", edit(func(b []byte) { b[50] = 0 }), "byte 50: layer 0 quant bits 0 out of range [1, 16]"},
		{"quant bits 17", edit(func(b []byte) { b[50] = 17 }), "byte 50: layer 0 quant bits 17 out of range [1, 16]"},
		{"quant flags", edit(func(b []byte) { b[51] = 0x03 }),
			"byte 51: layer 0 quant flags 0x03 has unknown bits 0x02 set (want bit 0 power_of_two, other bits zero)"},
		{"quant lo NaN", putF(52, math.NaN()), "byte 52: layer 0 quant lo is NaN (want a finite number)"},
		{"quant hi Inf", putF(60, math.Inf(1)), "byte 60: layer 0 quant hi is +Inf (want a finite number)"},
		{"quant lo above hi", putF(52, 3), "byte 52: layer 0 quant range [3, 2] is not ordered (want lo ≤ hi)"},
		{"quant cut", fixCRC(append(append([]byte(nil), good[:64]...), 0, 0, 0, 0)), "byte 60: layer 0 quant hi needs 8 bytes, only 4 left"},
		{"weight quantizer flag", edit(func(b []byte) { b[142] = 2 }), "byte 142: layer 1 weight quantizer flag 2 (want 0 or 1)"},
		{"weight quantizer bits 0", edit(func(b []byte) { b[143] = 0 }), "byte 143: layer 1 weight quantizer bits 0 out of range [1, 16]"},
		{"weight quantizer bits 17", edit(func(b []byte) { b[143] = 17 }), "byte 143: layer 1 weight quantizer bits 17 out of range [1, 16]"},
		{"weight quantizer flags", edit(func(b []byte) { b[144] = 0x86 }),
			"byte 144: layer 1 weight quantizer flags 0x86 has unknown bits 0x84 set (want bit 0 power_of_two, bit 1 int_bias, other bits zero)"},
		{"bias limit", edit(func(b []byte) { binary.LittleEndian.PutUint64(b[145:], 1<<63) }),
			"byte 145: layer 1 weight quantizer bias_limit 9223372036854775808 exceeds 9223372036854775807"},
		{"weight quantizer cut", fixCRC(append(append([]byte(nil), good[:145]...), 0, 0, 0, 0)),
			"byte 145: layer 1 weight quantizer bias_limit needs 8 bytes, only 0 left"},
		{"quant kind in version 2", edit(func(b []byte) { b[8] = 2 }),
			"byte 49: layer 0 has unknown kind 8 (a version-2 file has 1 linear, 2 conv2d, 3 avgpool2d, 4 relu, 5 flatten, 6 activation, 7 maxpool2d)"},
		// Validate's message comes from checkQAT; only its start is pinned here.
		{"quantized weights without quant", fixCRC(quantized), "the layers do not fit together: model: "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var n model.Network
			err := n.UnmarshalBinary(tc.data)
			var fe *model.FormatError
			if !errors.Is(err, model.ErrFormat) || !errors.As(err, &fe) {
				t.Fatalf("error %v, want a FormatError matching ErrFormat", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}
