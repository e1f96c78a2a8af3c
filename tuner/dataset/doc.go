// Package dataset holds the labelled data sets fhetune trains and evaluates on: the
// embedded "digits" and "breast-cancer" sets, Fashion-MNIST read from IDX files, any
// numeric CSV file, and NumPy arrays (an .npz archive holding x and y, or two .npy files);
// seeded stratified train/validation/test splits with a calibration
// subset for quantization; and a feature standardizer fitted on the training set.
//
// # Conventions
//
//   - A [Dataset] holds raw (unstandardized) float64 features, one row per sample, and
//     integer labels 0..Classes-1. Image sets also carry their per-sample layout in
//     [Dataset.Shape] ([channels, height, width], or the trailing dimensions of a NumPy
//     array); rows are that layout flattened in row-major order.
//   - Every random choice takes a seed: the same data and [SplitConfig] give the same
//     splits on every machine.
//   - Readers take an [io.Reader] and accept gzip-compressed input transparently (detected
//     by its magic bytes); [ReadNPZ] takes an [io.ReaderAt], as zip archives need. Bad
//     input gives a [*FormatError] naming the file and the 1-based line (CSV) or the
//     byte offset in the decompressed stream (IDX, .npy; in an .npz, the member and the
//     offset in it); it matches [ErrFormat] with errors.Is.
//   - Functions that return matrices allocate them; methods named …To write into a
//     destination the caller owns.
//
// Nothing here prints, and nothing here keeps global mutable state. The package imports
// only the standard library, gonum and codeberg.org/sbinet/npyio (NumPy files); it must
// not import other fhetune packages.
package dataset
