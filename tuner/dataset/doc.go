// Package dataset holds the labelled data sets fhetune trains and evaluates on: the
// embedded "digits" and "breast-cancer" sets, Fashion-MNIST read from IDX files, and any
// numeric CSV file; seeded stratified train/validation/test splits with a calibration
// subset for quantization; and a feature standardizer fitted on the training set.
//
// # Conventions
//
//   - A [Dataset] holds raw (unstandardized) float64 features, one row per sample, and
//     integer labels 0..Classes-1. Image sets also carry their per-sample layout in
//     [Dataset.Shape] ([channels, height, width]); rows are that layout flattened in
//     row-major order.
//   - Every random choice takes a seed: the same data and [SplitConfig] give the same
//     splits on every machine.
//   - Readers take an [io.Reader] and accept gzip-compressed input transparently (detected
//     by its magic bytes). Bad input gives a [*FormatError] naming the file and the
//     1-based line (CSV) or the byte offset in the decompressed stream (IDX); it matches
//     [ErrFormat] with errors.Is.
//   - Functions that return matrices allocate them; methods named …To write into a
//     destination the caller owns.
//
// Nothing here prints, and nothing here keeps global mutable state. The package imports
// only the standard library and gonum; it must not import other fhetune packages.
package dataset
