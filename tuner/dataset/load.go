package dataset

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Names lists the data set names [Load] accepts, besides "csv:PATH".
func Names() []string { return []string{"digits", "breast-cancer", "fashion-mnist"} }

// Load loads a data set by name:
//
//   - "digits": 1,797 8x8 handwritten digits (pixels 0..16), 10 classes, Shape [1,8,8];
//     embedded in the binary.
//   - "breast-cancer": 569 samples of 30 real features, 2 classes (0 = malignant,
//     1 = benign); embedded.
//   - "fashion-mnist": 70,000 28x28 grey images (pixels 0..255), 10 classes, Shape
//     [1,28,28], read from the IDX files in [WithDataDir] (default
//     [DefaultFashionMNISTDir], filled by Debian's dataset-fashion-mnist package). Rows
//     0..59,999 are the official training set and rows 60,000..69,999 the official test
//     set; TestFrom is 60000 so that [Dataset.Split] keeps that test set.
//   - "csv:PATH": the CSV file at PATH, as [ReadCSV] reads it (gzip accepted); its Name
//     is "csv:PATH".
//
// An unknown name gives an error matching [ErrUnknownDataset]; missing Fashion-MNIST
// files one matching [ErrNotInstalled] that names the package to install; malformed data
// a [*FormatError].
func Load(name string, opts ...Option) (*Dataset, error) {
	cfg := newConfig(opts)
	switch {
	case name == "digits":
		return loadDigits()
	case name == "breast-cancer":
		return loadBreastCancer()
	case name == "fashion-mnist":
		return loadFashionMNIST(cfg.dataDir)
	case strings.HasPrefix(name, "csv:"):
		path := strings.TrimPrefix(name, "csv:")
		if path == "" {
			return nil, fmt.Errorf("%w: %q: no path after \"csv:\"", ErrUnknownDataset, name)
		}
		return loadCSVFile(path, cfg)
	default:
		return nil, fmt.Errorf("%w: %q (want one of %s, or csv:PATH)", ErrUnknownDataset, name, strings.Join(Names(), ", "))
	}
}

func loadCSVFile(path string, cfg config) (*Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: open csv: %w", err)
	}
	defer f.Close()
	d, err := readCSV(f, path, cfg)
	if err != nil {
		var fe *FormatError
		if errors.As(err, &fe) {
			return nil, err // already names the file
		}
		return nil, fmt.Errorf("dataset: read %s: %w", path, err)
	}
	d.Name = "csv:" + path
	return d, nil
}
