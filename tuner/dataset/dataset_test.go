package dataset_test

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/fhetune/fhetune/tuner/dataset"
	"gonum.org/v1/gonum/mat"
)

// fashion loads Fashion-MNIST once for all tests (it is 440 MB of float64).
var fashion = sync.OnceValues(func() (*dataset.Dataset, error) { return dataset.Load("fashion-mnist") })

// loadFashion loads Fashion-MNIST or skips the test when it is not installed.
// Callers must not modify the result.
func loadFashion(t testing.TB) *dataset.Dataset {
	t.Helper()
	d, err := fashion()
	if errors.Is(err, dataset.ErrNotInstalled) {
		t.Skipf("Fashion-MNIST is not installed (apt-get install -y %s): %v", dataset.FashionMNISTPackage, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// valueRange gives the smallest and largest entry of x.
func valueRange(x *mat.Dense) (lo, hi float64) {
	return mat.Min(x), mat.Max(x)
}

func TestLoadBuiltin(t *testing.T) {
	tests := []struct {
		name       string
		rows, cols int
		counts     []int
		shape      []int
		classNames []string
		lo, hi     float64
	}{
		{
			name: "digits", rows: 1797, cols: 64,
			counts:     []int{178, 182, 177, 183, 181, 182, 181, 179, 174, 180},
			shape:      []int{1, 8, 8},
			classNames: []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"},
			lo:         0, hi: 16,
		},
		{
			name: "breast-cancer", rows: 569, cols: 30,
			counts:     []int{212, 357},
			classNames: []string{"malignant", "benign"},
			lo:         0, hi: 4254, // largest worst area
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := dataset.Load(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Validate(); err != nil {
				t.Fatal(err)
			}
			if r, c := d.X.Dims(); r != tc.rows || c != tc.cols || d.Len() != tc.rows || d.Features() != tc.cols {
				t.Errorf("dims %dx%d (Len %d, Features %d), want %dx%d", r, c, d.Len(), d.Features(), tc.rows, tc.cols)
			}
			if d.Name != tc.name || d.Classes != len(tc.counts) || d.TestFrom != 0 {
				t.Errorf("Name %q Classes %d TestFrom %d", d.Name, d.Classes, d.TestFrom)
			}
			if got := d.ClassCounts(); !slices.Equal(got, tc.counts) {
				t.Errorf("class counts %v, want %v", got, tc.counts)
			}
			if !slices.Equal(d.Shape, tc.shape) || !slices.Equal(d.ClassNames, tc.classNames) {
				t.Errorf("Shape %v ClassNames %q", d.Shape, d.ClassNames)
			}
			if lo, hi := valueRange(d.X); lo != tc.lo || hi != tc.hi {
				t.Errorf("values in [%v, %v], want [%v, %v]", lo, hi, tc.lo, tc.hi)
			}
		})
	}
}

func TestLoadDigitsFirstRow(t *testing.T) {
	d, err := dataset.Load("digits")
	if err != nil {
		t.Fatal(err)
	}
	// The first sample of the file, a zero.
	want := []float64{0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0}
	if got := d.X.RawRowView(0)[:16]; !slices.Equal(got, want) || d.Y[0] != 0 {
		t.Errorf("row 0 starts %v label %d, want %v label 0", got, d.Y[0], want)
	}
}

func TestLoadFashionMNIST(t *testing.T) {
	d := loadFashion(t)
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if r, c := d.X.Dims(); r != 70000 || c != 784 {
		t.Fatalf("dims %dx%d, want 70000x784", r, c)
	}
	if d.TestFrom != 60000 || d.Classes != 10 || !slices.Equal(d.Shape, []int{1, 28, 28}) || len(d.ClassNames) != 10 {
		t.Errorf("TestFrom %d Classes %d Shape %v ClassNames %q", d.TestFrom, d.Classes, d.Shape, d.ClassNames)
	}
	train, test := make([]int, 10), make([]int, 10)
	for i, y := range d.Y {
		if i < d.TestFrom {
			train[y]++
		} else {
			test[y]++
		}
	}
	for c := range 10 {
		if train[c] != 6000 || test[c] != 1000 {
			t.Errorf("class %d: %d train and %d test images, want 6000 and 1000", c, train[c], test[c])
		}
	}
	if lo, hi := valueRange(d.X); lo != 0 || hi != 255 {
		t.Errorf("pixels in [%v, %v], want [0, 255]", lo, hi)
	}
	// Known labels at the start of each file (bytes 8.. of the label files).
	if got := []int{d.Y[0], d.Y[1], d.Y[2], d.Y[60000], d.Y[60001], d.Y[60002]}; !slices.Equal(got, []int{9, 0, 0, 9, 2, 1}) {
		t.Errorf("first labels %v, want [9 0 0 9 2 1]", got)
	}
}

func TestLoadFashionMNISTMissing(t *testing.T) {
	dir := t.TempDir()
	_, err := dataset.Load("fashion-mnist", dataset.WithDataDir(dir))
	if !errors.Is(err, dataset.ErrNotInstalled) {
		t.Fatalf("error %v, want ErrNotInstalled", err)
	}
	for _, part := range []string{dir, "train-images-idx3-ubyte.gz", "apt-get install -y dataset-fashion-mnist"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not mention %q", err, part)
		}
	}
}

func TestLoadFashionMNISTBadFiles(t *testing.T) {
	// A folder with valid label files and a truncated training image file.
	dir := t.TempDir()
	images := func(n int) []byte { return idxBytes(0x803, []int{n, 2, 2}, make([]byte, n*4)) }
	labels := func(n int) []byte { return idxBytes(0x801, []int{n}, make([]byte, n)) }
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("train-images-idx3-ubyte.gz", gz(images(3))[:30])
	write("train-labels-idx1-ubyte.gz", gz(labels(3)))
	write("t10k-images-idx3-ubyte", images(2)) // uncompressed is fine too
	write("t10k-labels-idx1-ubyte.gz", gz(labels(2)))
	_, err := dataset.Load("fashion-mnist", dataset.WithDataDir(dir))
	var fe *dataset.FormatError
	if !errors.As(err, &fe) || !strings.HasSuffix(fe.File, "train-images-idx3-ubyte.gz") || fe.Offset < 0 {
		t.Fatalf("error %v, want a FormatError at an offset of train-images-idx3-ubyte.gz", err)
	}

	// Fixed: the set loads, with its test part after the training part.
	write("train-images-idx3-ubyte.gz", gz(images(3)))
	d, err := dataset.Load("fashion-mnist", dataset.WithDataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 5 || d.TestFrom != 3 || !slices.Equal(d.Shape, []int{1, 2, 2}) {
		t.Errorf("Len %d TestFrom %d Shape %v, want 5, 3, [1 2 2]", d.Len(), d.TestFrom, d.Shape)
	}

	// A label out of range names the file and the byte offset of the label.
	bad := labels(2)
	bad[8+1] = 10
	write("t10k-labels-idx1-ubyte.gz", gz(bad))
	_, err = dataset.Load("fashion-mnist", dataset.WithDataDir(dir))
	if err == nil || !strings.Contains(err.Error(), "t10k-labels-idx1-ubyte.gz: byte offset 9: label 10 out of range 0..9") {
		t.Errorf("error %v, want label 10 out of range at byte offset 9", err)
	}

	// Image and label counts must agree.
	write("t10k-labels-idx1-ubyte.gz", gz(labels(4)))
	_, err = dataset.Load("fashion-mnist", dataset.WithDataDir(dir))
	if !errors.Is(err, dataset.ErrFormat) || !strings.Contains(err.Error(), "2 images but") {
		t.Errorf("error %v, want a count mismatch", err)
	}
}

func TestLoadUnknown(t *testing.T) {
	for _, name := range []string{"", "mnist", "Digits", "csv:"} {
		if _, err := dataset.Load(name); !errors.Is(err, dataset.ErrUnknownDataset) {
			t.Errorf("Load(%q): error %v, want ErrUnknownDataset", name, err)
		}
	}
}

func TestLoadCSVFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "iris-like.csv")
	text := "a,b,class,c\n1,2,0,3\n4,5,1,6\n7,8,2,9\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := dataset.Load("csv:"+path, dataset.WithLabelColumn("class"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "csv:"+path || d.Classes != 3 || !slices.Equal(d.Y, []int{0, 1, 2}) ||
		!slices.Equal(d.X.RawRowView(2), []float64{7, 8, 9}) {
		t.Errorf("got Name %q Classes %d Y %v row 2 %v", d.Name, d.Classes, d.Y, d.X.RawRowView(2))
	}
	gzPath := filepath.Join(dir, "data.csv.gz")
	if err := os.WriteFile(gzPath, gz([]byte("1,2,1\n3,4,0\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err = dataset.Load("csv:" + gzPath)
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 2 || d.Features() != 2 || !slices.Equal(d.Y, []int{1, 0}) {
		t.Errorf("gzip csv: Len %d Features %d Y %v", d.Len(), d.Features(), d.Y)
	}
	_, err = dataset.Load("csv:" + filepath.Join(dir, "absent.csv"))
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "absent.csv") {
		t.Errorf("missing file: error %v", err)
	}
}

func TestSubsetAndValidate(t *testing.T) {
	d, err := dataset.Load("digits")
	if err != nil {
		t.Fatal(err)
	}
	s, err := d.Subset([]int{5, 0, 5})
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 3 || !slices.Equal(s.X.RawRowView(1), d.X.RawRowView(0)) || s.Y[0] != d.Y[5] {
		t.Error("Subset copied the wrong rows")
	}
	s.X.Set(1, 0, 99)
	if d.X.At(0, 0) == 99 {
		t.Error("Subset shares memory with its source")
	}
	if _, err := d.Subset(nil); !errors.Is(err, dataset.ErrEmpty) {
		t.Errorf("empty Subset: error %v, want ErrEmpty", err)
	}

	bad := *s
	bad.Y = []int{0, 1, 10}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "label 10 out of range 0..9") {
		t.Errorf("Validate: %v", err)
	}
	bad = *s
	bad.Shape = []int{1, 7, 8}
	if err := bad.Validate(); err == nil {
		t.Error("Validate accepted a wrong Shape")
	}
	bad = *s
	bad.TestFrom = 3
	if err := bad.Validate(); err == nil {
		t.Error("Validate accepted TestFrom = Len")
	}
	if math.IsNaN(s.X.At(0, 0)) {
		t.Error("unexpected NaN")
	}
}
