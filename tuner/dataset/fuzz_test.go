package dataset_test

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/fhetune/fhetune/tuner/dataset"
)

// FuzzReadCSV feeds arbitrary bytes to the CSV reader: it must never panic, and it must
// either return a valid Dataset of finite values or a one-line FormatError naming the
// input. Seeds live in testdata/fuzz/FuzzReadCSV.
func FuzzReadCSV(f *testing.F) {
	f.Add([]byte("1,2,0\n3,4,1\n"), "")
	f.Fuzz(func(t *testing.T, data []byte, label string) {
		var opts []dataset.Option
		if label != "" {
			opts = append(opts, dataset.WithLabelColumn(label))
		}
		d, err := dataset.ReadCSV(bytes.NewReader(data), "fuzz.csv", opts...)
		if err != nil {
			checkFuzzError(t, err, "dataset: fuzz.csv: ")
			return
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("invalid Dataset: %v", err)
		}
		for _, v := range d.X.RawMatrix().Data {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("non-finite value %v accepted", v)
			}
		}
		if d.Classes > dataset.MaxClasses {
			t.Fatalf("%d classes", d.Classes)
		}
	})
}

// FuzzReadIDX feeds arbitrary bytes to the IDX reader with 1, 2 or 3 dimensions: it must
// never panic, and it must either return an array whose size is the product of its
// dimensions or a one-line FormatError with a byte offset. Seeds live in
// testdata/fuzz/FuzzReadIDX.
func FuzzReadIDX(f *testing.F) {
	f.Add(idxBytes(dataset.IDXLabelsMagic, []int{2}, []byte{1, 2}), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, nd uint8) {
		ndims := 1 + int(nd%3)
		a, err := dataset.ReadIDX(bytes.NewReader(data), "fuzz.idx", ndims)
		if err != nil {
			checkFuzzError(t, err, "dataset: fuzz.idx: byte offset ")
			return
		}
		size := 1
		for _, d := range a.Dims {
			if d <= 0 {
				t.Fatalf("dimension %d", d)
			}
			size *= d
		}
		if len(a.Dims) != ndims || len(a.Data) != size {
			t.Fatalf("dims %v hold %d bytes, data has %d", a.Dims, size, len(a.Data))
		}
	})
}

// FuzzReadNPY feeds arbitrary bytes as the features and the labels .npy files: it must
// never panic (npyio panics on some malformed headers, which the reader must catch), and
// it must either return a valid Dataset of finite values whose Shape, when set,
// multiplies to the feature count, or a one-line FormatError naming one of the two
// inputs. Seeds live in testdata/fuzz/FuzzReadNPY.
func FuzzReadNPY(f *testing.F) {
	f.Add(npyBytes(f, [][2]float32{{1, 2}, {3, 4}}), npyBytes(f, []int64{0, 1}))
	f.Fuzz(func(t *testing.T, x, y []byte) {
		d, err := dataset.ReadNPY(bytes.NewReader(x), bytes.NewReader(y), "x.npy", "y.npy")
		if err != nil {
			checkFuzzError(t, err, "dataset: ")
			var fe *dataset.FormatError
			errors.As(err, &fe) // checked above
			if fe.File != "x.npy" && fe.File != "y.npy" {
				t.Fatalf("error %v names neither input", err)
			}
			return
		}
		checkFuzzDataset(t, d)
	})
}

// FuzzReadNPZ feeds arbitrary bytes to the .npz reader, with the same demands as
// FuzzReadNPY; errors name the archive. Seeds live in testdata/fuzz/FuzzReadNPZ.
func FuzzReadNPZ(f *testing.F) {
	f.Add(npzBytes(f, map[string]any{"x": [][2]float32{{1, 2}, {3, 4}}, "y": []int64{0, 1}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := dataset.ReadNPZ(bytes.NewReader(data), int64(len(data)), "fuzz.npz")
		if err != nil {
			checkFuzzError(t, err, "dataset: fuzz.npz: ")
			return
		}
		checkFuzzDataset(t, d)
	})
}

// checkFuzzDataset checks what a NumPy reader promises of the Dataset it returns.
func checkFuzzDataset(t *testing.T, d *dataset.Dataset) {
	t.Helper()
	if err := d.Validate(); err != nil {
		t.Fatalf("invalid Dataset: %v", err)
	}
	for _, v := range d.X.RawMatrix().Data {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("non-finite value %v accepted", v)
		}
	}
	if d.Classes > dataset.MaxClasses {
		t.Fatalf("%d classes", d.Classes)
	}
	if d.Shape != nil && len(d.Shape) < 2 {
		t.Fatalf("Shape %v: want nil or at least 2 dimensions", d.Shape)
	}
}

// checkFuzzError checks that err is a one-line FormatError whose message starts with prefix.
func checkFuzzError(t *testing.T, err error, prefix string) {
	t.Helper()
	var fe *dataset.FormatError
	if !errors.As(err, &fe) || !errors.Is(err, dataset.ErrFormat) {
		t.Fatalf("error %v (%T) is not a FormatError", err, err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, prefix) || strings.ContainsAny(msg, "\n\r") {
		t.Fatalf("error %q: want one line starting %q", msg, prefix)
	}
}
