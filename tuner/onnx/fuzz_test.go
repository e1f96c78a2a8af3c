package onnx_test

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/fhetune/fhetune/tuner/onnx"
)

var fixtures = []string{"mlp", "cnn", "ops", "reshape", "unsupported"}

// checkDecode asserts the reader's contract on arbitrary bytes: no panic, and either a
// valid network whose forward pass runs, or a one-line *onnx.Error naming the file
// that wraps ErrFormat or ErrUnsupported.
func checkDecode(t *testing.T, data []byte) {
	t.Helper()
	net, err := onnx.Decode(data, "fuzz.onnx")
	if err != nil {
		var e *onnx.Error
		if !errors.As(err, &e) || !(errors.Is(err, onnx.ErrFormat) || errors.Is(err, onnx.ErrUnsupported)) {
			t.Fatalf("error %v (%T) is not an *onnx.Error of ErrFormat or ErrUnsupported", err, err)
		}
		if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "fuzz.onnx") {
			t.Fatalf("error %q does not name the file on one line", err)
		}
		return
	}
	if err := net.Validate(); err != nil {
		t.Fatalf("read network invalid: %v", err)
	}
	if net.InSize() <= 1<<16 {
		out := net.Logits(mat.NewDense(1, net.InSize(), nil))
		if _, c := out.Dims(); c != net.Classes {
			t.Fatalf("%d logits, %d classes", c, net.Classes)
		}
	}
}

// FuzzDecode feeds arbitrary bytes to the reader (checkDecode). Seeds: the fixtures,
// whole and cut.
func FuzzDecode(f *testing.F) {
	for _, name := range fixtures {
		data, err := os.ReadFile(filepath.Join("testdata", name+".onnx"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		f.Add(data[:len(data)*2/3])
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkDecode(t, data) })
}

// TestDecodeMutations runs checkDecode on 1,000 seeded mutations of each fixture
// (bytes replaced, cut out, inserted and duplicated): a deterministic complement to
// FuzzDecode that every test run repeats.
func TestDecodeMutations(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, name := range fixtures {
		data, err := os.ReadFile(filepath.Join("testdata", name+".onnx"))
		if err != nil {
			t.Fatal(err)
		}
		for range 1000 {
			checkDecode(t, mutate(r, data))
		}
	}
}

// mutate returns a copy of data with one to four random edits.
func mutate(r *rand.Rand, data []byte) []byte {
	d := append([]byte(nil), data...)
	for range 1 + r.IntN(4) {
		i := r.IntN(len(d))
		switch r.IntN(4) {
		case 0:
			d[i] = byte(r.IntN(256))
		case 1:
			d = append(d[:i], d[min(len(d), i+1+r.IntN(16)):]...)
		case 2:
			ins := make([]byte, 1+r.IntN(8))
			for j := range ins {
				ins[j] = byte(r.IntN(256))
			}
			d = append(d[:i], append(ins, d[i:]...)...)
		case 3:
			j := r.IntN(len(d))
			i, j = min(i, j), max(i, j)
			d = append(d[:j], append(append([]byte(nil), d[i:j]...), d[j:]...)...)
		}
		if len(d) == 0 {
			d = []byte{0}
		}
	}
	return d
}
