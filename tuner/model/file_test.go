package model_test

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io/fs"
	"math"
	"os"
	"path/filepath"
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
	return map[string]*model.Network{"mlp": mlp, "cnn": cnn, "bare": bare}
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
		{"future version", edit(func(b []byte) []byte { b[8] = 2; return b }), model.ErrVersion, "byte 8: format version 2 is not supported (this build reads version 1)"},
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
