package dataset

import (
	"fmt"

	"gonum.org/v1/gonum/mat"
)

// Dataset is a labelled sample matrix.
//
// A Dataset is a plain value: nothing in this package mutates one after returning it,
// and it is safe for concurrent reads.
type Dataset struct {
	// Name is the name it was loaded under ("digits", "csv:PATH", …).
	Name string
	// X holds one row per sample: raw (unstandardized) float64 features.
	X *mat.Dense
	// Y holds the labels, 0..Classes-1, one per row of X.
	Y []int
	// Classes is the number of classes K; every label is below it.
	Classes int
	// Shape is the per-sample layout, each row being that layout flattened in row-major
	// order; its product is the column count of X. The image sets have [channels,
	// height, width] (digits [1,8,8], fashion-mnist [1,28,28]); a NumPy features array of
	// shape (rows, d1, d2, ...) gives [d1, d2, ...] as it is, so that a model can reshape
	// a row to its input (an (N, 28, 28) array gives [28, 28]: save it as (N, 1, 28, 28)
	// for channels). Nil for tabular data (CSV files, 2-D arrays).
	Shape []int
	// ClassNames names the classes, index = label; nil when unknown.
	ClassNames []string
	// TestFrom, when positive, is the row where a fixed, official test set starts: rows
	// TestFrom..Len()-1 are that test set and rows 0..TestFrom-1 the official training
	// set. Fashion-MNIST sets it to 60000. [Dataset.Split] honours it: the test split is
	// exactly those rows, and validation and calibration come from the rows before.
	// Zero means no fixed test set.
	TestFrom int
}

// Len is the number of samples.
func (d *Dataset) Len() int { return len(d.Y) }

// Features is the number of feature columns.
func (d *Dataset) Features() int {
	_, c := d.X.Dims()
	return c
}

// ClassCounts gives the number of samples of each class, index = label.
func (d *Dataset) ClassCounts() []int {
	counts := make([]int, d.Classes)
	for _, y := range d.Y {
		counts[y]++
	}
	return counts
}

// Subset copies the samples at rows idx (in that order) into a new Dataset with the same
// name, classes, shape and class names and no fixed test set. It returns an error
// wrapping [ErrEmpty] for an empty idx and panics on an index out of range (a
// programmer error).
func (d *Dataset) Subset(idx []int) (*Dataset, error) {
	if len(idx) == 0 {
		return nil, fmt.Errorf("subset of %s: %w", d.Name, ErrEmpty)
	}
	cols := d.Features()
	x := mat.NewDense(len(idx), cols, nil)
	y := make([]int, len(idx))
	for i, r := range idx {
		copy(x.RawRowView(i), d.X.RawRowView(r))
		y[i] = d.Y[r]
	}
	return &Dataset{
		Name:       d.Name,
		X:          x,
		Y:          y,
		Classes:    d.Classes,
		Shape:      append([]int(nil), d.Shape...),
		ClassNames: append([]string(nil), d.ClassNames...),
	}, nil
}

// Validate checks the invariants: X has one row per label, every label lies in
// 0..Classes-1, Shape (when set) multiplies to the column count, ClassNames (when set)
// has Classes entries and TestFrom lies in 0..Len()-1.
func (d *Dataset) Validate() error {
	if d.X == nil || len(d.Y) == 0 {
		return fmt.Errorf("dataset %s: %w", d.Name, ErrEmpty)
	}
	r, c := d.X.Dims()
	if r != len(d.Y) {
		return fmt.Errorf("dataset: %s: %d rows of features but %d labels", d.Name, r, len(d.Y))
	}
	if d.Classes < 1 {
		return fmt.Errorf("dataset: %s: %d classes, want at least 1", d.Name, d.Classes)
	}
	for i, y := range d.Y {
		if y < 0 || y >= d.Classes {
			return fmt.Errorf("dataset: %s: sample %d: label %d out of range 0..%d", d.Name, i, y, d.Classes-1)
		}
	}
	if d.Shape != nil {
		p := 1
		for _, s := range d.Shape {
			p *= s
		}
		if p != c {
			return fmt.Errorf("dataset: %s: shape %v holds %d values, but samples have %d features", d.Name, d.Shape, p, c)
		}
	}
	if d.ClassNames != nil && len(d.ClassNames) != d.Classes {
		return fmt.Errorf("dataset: %s: %d class names for %d classes", d.Name, len(d.ClassNames), d.Classes)
	}
	if d.TestFrom < 0 || d.TestFrom >= r {
		return fmt.Errorf("dataset: %s: TestFrom %d out of range 0..%d", d.Name, d.TestFrom, r-1)
	}
	return nil
}
