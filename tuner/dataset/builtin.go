package dataset

import (
	"bytes"
	_ "embed" // for the embedded data sets
	"fmt"
)

// digitsCSV is the UCI Optical Recognition of Handwritten Digits 8x8 test set as shipped
// by Debian's python3-sklearn: gzip CSV, no header, 64 pixels 0..16 then the label.
//
//go:embed data/digits.csv.gz
var digitsCSV []byte

// breastCancerCSV is the UCI Breast Cancer Wisconsin (Diagnostic) set as shipped by
// Debian's python3-sklearn: a header "569,30,malignant,benign", then 30 features and the
// label (0 = malignant, 1 = benign).
//
//go:embed data/breast_cancer.csv
var breastCancerCSV []byte

// digitsClassNames names the ten digit classes.
var digitsClassNames = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

// loadDigits reads the embedded digits set: 1,797 samples of 8x8 pixels, 10 classes.
func loadDigits() (*Dataset, error) {
	d, err := readCSV(bytes.NewReader(digitsCSV), "digits.csv.gz (embedded)", config{classes: 10})
	if err != nil {
		return nil, err
	}
	if r, c := d.X.Dims(); r != 1797 || c != 64 {
		return nil, fmt.Errorf("dataset: embedded digits set is %dx%d, want 1797x64", r, c)
	}
	d.Name = "digits"
	d.Shape = []int{1, 8, 8}
	d.ClassNames = append([]string(nil), digitsClassNames...)
	return d, nil
}

// loadBreastCancer reads the embedded breast-cancer set: 569 samples, 30 features,
// 2 classes (0 = malignant, 1 = benign).
func loadBreastCancer() (*Dataset, error) {
	d, err := readCSV(bytes.NewReader(breastCancerCSV), "breast_cancer.csv (embedded)", config{header: headerSklearn})
	if err != nil {
		return nil, err
	}
	if r, c := d.X.Dims(); r != 569 || c != 30 || d.Classes != 2 {
		return nil, fmt.Errorf("dataset: embedded breast-cancer set is %dx%d with %d classes, want 569x30 with 2", r, c, d.Classes)
	}
	d.Name = "breast-cancer"
	return d, nil
}
