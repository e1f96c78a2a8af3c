package dataset_test

import (
	"errors"
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
