package dataset

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Names lists the data set names [Load] accepts, besides the files "csv:PATH",
// "npz:PATH" and "npy:X,Y".
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
//   - "npz:PATH": the NumPy .npz archive at PATH (numpy.savez or savez_compressed), its
//     features in the array x or X and its labels in the array y, as [ReadNPZ] reads it;
//     its Name is "npz:PATH".
//   - "npy:X,Y": the NumPy .npy files at paths X (features) and Y (labels), separated by
//     a comma (when the paths hold commas too, the one split into two existing files),
//     as [ReadNPY] reads them; its Name is "npy:X,Y".
//
// An unknown name gives an error matching [ErrUnknownDataset]; missing Fashion-MNIST
// files one matching [ErrNotInstalled] that names the package to install; a file that
// cannot be opened the *fs.PathError (matching fs.ErrNotExist when missing); malformed
// data a [*FormatError].
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
	case strings.HasPrefix(name, "npz:"):
		path := strings.TrimPrefix(name, "npz:")
		if path == "" {
			return nil, fmt.Errorf("%w: %q: no path after \"npz:\"", ErrUnknownDataset, name)
		}
		return loadNPZFile(path, cfg)
	case strings.HasPrefix(name, "npy:"):
		x, y, err := splitNPYPaths(strings.TrimPrefix(name, "npy:"))
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %w", ErrUnknownDataset, name, err)
		}
		return loadNPYFiles(x, y, cfg)
	default:
		return nil, fmt.Errorf("%w: %q (want one of %s, or csv:PATH, npz:PATH, npy:X.npy,Y.npy)", ErrUnknownDataset, name, strings.Join(Names(), ", "))
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

// splitNPYPaths splits "X,Y" into the features and the labels path. When the paths hold
// commas themselves, the one split into two existing files is taken.
func splitNPYPaths(s string) (x, y string, err error) {
	errWant := errors.New("want npy:X.npy,Y.npy, the features and the labels file separated by a comma")
	switch strings.Count(s, ",") {
	case 0:
		return "", "", errWant
	case 1:
		x, y, _ = strings.Cut(s, ",")
		if x == "" || y == "" {
			return "", "", errWant
		}
		return x, y, nil
	}
	var found [][2]string
	for i, c := range s {
		if c != ',' {
			continue
		}
		x, y := s[:i], s[i+1:]
		if isFile(x) && isFile(y) {
			found = append(found, [2]string{x, y})
		}
	}
	if len(found) != 1 {
		return "", "", fmt.Errorf("%w (the paths hold commas: %d ways to split them into two existing files)", errWant, len(found))
	}
	return found[0][0], found[0][1], nil
}

// isFile reports whether path names an existing regular file.
func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}
