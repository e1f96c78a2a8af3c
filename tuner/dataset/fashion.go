package dataset

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/mat"
)

// FashionMNISTPackage is the Debian package that installs Fashion-MNIST in
// [DefaultFashionMNISTDir].
const FashionMNISTPackage = "dataset-fashion-mnist"

// fashionClassNames are Fashion-MNIST's ten classes, index = label.
var fashionClassNames = []string{
	"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
}

// fashionFiles are the four IDX files, each read as <name>.gz or, failing that, <name>.
var fashionFiles = [4]struct {
	name  string
	ndims int
}{
	{"train-images-idx3-ubyte", 3},
	{"train-labels-idx1-ubyte", 1},
	{"t10k-images-idx3-ubyte", 3},
	{"t10k-labels-idx1-ubyte", 1},
}

// loadFashionMNIST reads the official training set and then the official test set from
// dir, the four files concurrently, into one Dataset with TestFrom at the first test
// image.
func loadFashionMNIST(dir string) (*Dataset, error) {
	var (
		arrays [4]IDX
		paths  [4]string
		errs   [4]error
		wg     sync.WaitGroup
	)
	for i, f := range fashionFiles {
		paths[i], errs[i] = findIDXFile(dir, f.name)
		if errs[i] != nil {
			return nil, errs[i]
		}
	}
	for i, f := range fashionFiles {
		wg.Go(func() {
			arrays[i], errs[i] = readIDXFile(paths[i], f.ndims)
		})
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}

	trX, trY, teX, teY := arrays[0], arrays[1], arrays[2], arrays[3]
	for _, p := range [][2]int{{0, 1}, {2, 3}} {
		if ni, nl := arrays[p[0]].Dims[0], arrays[p[1]].Dims[0]; ni != nl {
			return nil, fmt.Errorf("%w: fashion-mnist: %s holds %d images but %s %d labels",
				ErrFormat, paths[p[0]], ni, paths[p[1]], nl)
		}
	}
	h, w := trX.Dims[1], trX.Dims[2]
	if teX.Dims[1] != h || teX.Dims[2] != w {
		return nil, fmt.Errorf("%w: fashion-mnist: %s has %dx%d images but %s %dx%d",
			ErrFormat, paths[2], teX.Dims[1], teX.Dims[2], paths[0], h, w)
	}
	nTrain, nTest := trX.Dims[0], teX.Dims[0]
	y := make([]int, nTrain+nTest)
	for _, part := range []struct {
		path   string
		labels []byte
		at     int
	}{{paths[1], trY.Data, 0}, {paths[3], teY.Data, nTrain}} {
		for i, b := range part.labels {
			if int(b) >= len(fashionClassNames) {
				return nil, offsetError(part.path, int64(8+i), "label %d out of range 0..%d", b, len(fashionClassNames)-1)
			}
			y[part.at+i] = int(b)
		}
	}

	// Convert the pixels in equal chunks, one per core: the cost is mostly the first
	// touch of the fresh float64 pages, which the kernel serves in parallel.
	cols := h * w
	x := make([]float64, (nTrain+nTest)*cols)
	trainPix := len(trX.Data)
	workers := max(1, runtime.GOMAXPROCS(0))
	chunk := (len(x) + workers - 1) / workers
	var cv sync.WaitGroup
	for lo := 0; lo < len(x); lo += chunk {
		hi := min(lo+chunk, len(x))
		cv.Go(func() {
			// [lo, hi) may straddle the end of the training images.
			if lo < trainPix {
				bytesToFloats(x[lo:min(hi, trainPix)], trX.Data[lo:min(hi, trainPix)])
			}
			if hi > trainPix {
				from := max(lo, trainPix)
				bytesToFloats(x[from:hi], teX.Data[from-trainPix:hi-trainPix])
			}
		})
	}
	cv.Wait()

	return &Dataset{
		Name:       "fashion-mnist",
		X:          mat.NewDense(nTrain+nTest, cols, x),
		Y:          y,
		Classes:    len(fashionClassNames),
		Shape:      []int{1, h, w},
		ClassNames: append([]string(nil), fashionClassNames...),
		TestFrom:   nTrain,
	}, nil
}

// bytesToFloats widens unsigned bytes into float64s; len(dst) == len(src).
func bytesToFloats(dst []float64, src []byte) {
	dst = dst[:len(src)]
	for i, b := range src {
		dst[i] = float64(b)
	}
}

// findIDXFile finds dir/name.gz or dir/name; when neither exists the error names the
// Debian package that provides them.
func findIDXFile(dir, name string) (string, error) {
	gz := filepath.Join(dir, name+".gz")
	for _, p := range []string{gz, filepath.Join(dir, name)} {
		_, err := os.Stat(p)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("dataset: fashion-mnist: %w", err)
		}
	}
	return "", fmt.Errorf("%w: fashion-mnist: %s is missing; install the Debian package %s (apt-get install -y %s) or point the data folder (WithDataDir, --data-dir) at the IDX files",
		ErrNotInstalled, gz, FashionMNISTPackage, FashionMNISTPackage)
}

// readIDXFile reads one IDX file.
func readIDXFile(path string, ndims int) (IDX, error) {
	f, err := os.Open(path)
	if err != nil {
		return IDX{}, fmt.Errorf("dataset: fashion-mnist: %w", err)
	}
	defer f.Close()
	return ReadIDX(f, path, ndims)
}
