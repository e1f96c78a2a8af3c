package dataset_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/fhetune/fhetune/tuner/dataset"
)

// BenchmarkLoadFashionMNIST reads the 70,000 Fashion-MNIST images and labels from the
// installed IDX gz files into a float64 Dataset.
func BenchmarkLoadFashionMNIST(b *testing.B) {
	if _, err := dataset.Load("fashion-mnist"); errors.Is(err, dataset.ErrNotInstalled) {
		b.Skipf("Fashion-MNIST not installed: apt-get install -y %s", dataset.FashionMNISTPackage)
	}
	b.ReportAllocs()
	for b.Loop() {
		d, err := dataset.Load("fashion-mnist")
		if err != nil {
			b.Fatal(err)
		}
		if d.Len() != 70000 {
			b.Fatalf("%d samples", d.Len())
		}
	}
}

// BenchmarkReadIDX decodes the gzip Fashion-MNIST training images (60,000 28x28 bytes)
// from memory: the reader's own cost, without the float64 conversion.
func BenchmarkReadIDX(b *testing.B) {
	path := filepath.Join(dataset.DefaultFashionMNISTDir, "train-images-idx3-ubyte.gz")
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		b.Skipf("Fashion-MNIST not installed: apt-get install -y %s", dataset.FashionMNISTPackage)
	}
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(60000 * 28 * 28)
	b.ReportAllocs()
	for b.Loop() {
		a, err := dataset.ReadIDX(bytes.NewReader(raw), path, 3)
		if err != nil {
			b.Fatal(err)
		}
		if len(a.Data) != 60000*28*28 {
			b.Fatalf("%d bytes", len(a.Data))
		}
	}
}

// BenchmarkSplitFashionMNIST splits the 70,000 images (copying 54,000 + 6,000 + 10,000
// + 500 rows).
func BenchmarkSplitFashionMNIST(b *testing.B) {
	d := loadFashion(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Split(dataset.SplitConfig{Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadDigits parses the embedded gzip CSV digits set.
func BenchmarkLoadDigits(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dataset.Load("digits"); err != nil {
			b.Fatal(err)
		}
	}
}
