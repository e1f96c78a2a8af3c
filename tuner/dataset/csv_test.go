package dataset_test

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/fhetune/fhetune/tuner/dataset"
)

func TestReadCSV(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		opts    []dataset.Option
		x       []float64 // all features, row-major
		y       []int
		classes int
	}{
		{"no header", "1,2,0\n3,4,1\n", nil, []float64{1, 2, 3, 4}, []int{0, 1}, 2},
		{"header", "a,b,label\n1,2,1\n3,4,0\n", nil, []float64{1, 2, 3, 4}, []int{1, 0}, 2},
		{"label by name", "y,a,b\n2,1,2\n0,3,4\n1,5,6\n", []dataset.Option{dataset.WithLabelColumn("y")},
			[]float64{1, 2, 3, 4, 5, 6}, []int{2, 0, 1}, 3},
		{"spaces, CRLF, blank lines, quotes", " 1.5 , -2e3, 1.0\r\n\r\n\"3\",4,0\r\n", nil, []float64{1.5, -2000, 3, 4}, []int{1, 0}, 2},
		{"fixed classes", "1,0\n2,0\n", []dataset.Option{dataset.WithClasses(3)}, []float64{1, 2}, []int{0, 0}, 3},
		{"no final newline", "1,1\n2,0", nil, []float64{1, 2}, []int{1, 0}, 2},
		{"gzip", string(gz([]byte("7,8,0\n9,10,1\n"))), nil, []float64{7, 8, 9, 10}, []int{0, 1}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := dataset.ReadCSV(strings.NewReader(tc.text), "t.csv", tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Validate(); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(d.X.RawMatrix().Data, tc.x) || !slices.Equal(d.Y, tc.y) || d.Classes != tc.classes || d.Name != "t.csv" {
				t.Errorf("X %v Y %v Classes %d Name %q; want X %v Y %v Classes %d",
					d.X.RawMatrix().Data, d.Y, d.Classes, d.Name, tc.x, tc.y, tc.classes)
			}
		})
	}
}

// truncatedGzip is a gzip CSV cut in the middle of its compressed stream.
func truncatedGzip() []byte {
	var b bytes.Buffer
	for i := range 2000 {
		b.WriteString(strings.Repeat("1,", 10))
		b.WriteString([]string{"0\n", "1\n"}[i%2])
	}
	z := gz(b.Bytes())
	return z[:len(z)/2]
}

func TestReadCSVErrors(t *testing.T) {
	tests := []struct {
		name  string
		input string
		opts  []dataset.Option
		want  string // the whole message
		is    error  // an extra errors.Is target
	}{
		{"ragged row", "1,2,0\n3,4\n", nil, "dataset: bad.csv: line 2: 2 fields, want 3 (as on line 1)", nil},
		{"ragged after header", "a,b,y\n1,2,0\n\n3,4,5,1\n", nil, "dataset: bad.csv: line 4: 4 fields, want 3 (as on line 1)", nil},
		{"NaN", "1,2,0\n3,NaN,1\n", nil, "dataset: bad.csv: line 2: column 2: NaN is not allowed", nil},
		{"Inf with header", "a,b,y\n1,2,0\n-inf,4,1\n", nil, `dataset: bad.csv: line 3: column 1 ("a"): infinite value "-inf" is not allowed`, nil},
		{"overflow", "1,2,0\n1e999,4,1\n", nil, `dataset: bad.csv: line 2: column 1: infinite value "1e999" is not allowed`, nil},
		{"not a number", "1,2,0\n1,x,1\n", nil, `dataset: bad.csv: line 2: column 2: "x" is not a number`, nil},
		{"empty field", "1,2,0\n1,,1\n", nil, `dataset: bad.csv: line 2: column 2: "" is not a number`, nil},
		{"label out of range", "1,0\n2,10\n", []dataset.Option{dataset.WithClasses(10)}, "dataset: bad.csv: line 2: column 2: label 10 out of range 0..9 (10 classes)", nil},
		{"negative label", "1,0\n2,-1\n", nil, "dataset: bad.csv: line 2: column 2: label -1 out of range 0..999 (at most 1000 classes)", nil},
		{"huge label", "1,0\n2,1000\n", nil, "dataset: bad.csv: line 2: column 2: label 1000 out of range 0..999 (at most 1000 classes)", nil},
		{"fractional label", "1,0\n2,1.5\n", nil, `dataset: bad.csv: line 2: column 2: label "1.5" is not an integer`, nil},
		{"text label", "a,y\n1,0\n2,cat\n", nil, `dataset: bad.csv: line 3: column 2 ("y"): label "cat" is not a number`, nil},
		{"missing class", "1,0\n2,2\n", nil, "dataset: bad.csv: no sample has label 1; labels must be the integers 0..K-1 with every class present (K = 3, the largest label plus one)", nil},
		{"empty", "", nil, "dataset: bad.csv: no data rows", dataset.ErrEmpty},
		{"header only", "a,b,y\n", nil, "dataset: bad.csv: no data rows", dataset.ErrEmpty},
		{"one column", "1\n2\n", nil, "dataset: bad.csv: line 1: 1 column(s); want at least one feature column and a label column", nil},
		{"no such label column", "a,b\n1,0\n", []dataset.Option{dataset.WithLabelColumn("y")}, `dataset: bad.csv: line 1: header has no column named "y" (columns: "a", "b")`, nil},
		{"label column twice", "y,a,y\n1,2,0\n", []dataset.Option{dataset.WithLabelColumn("y")}, `dataset: bad.csv: line 1: header names column "y" twice (columns 1 and 3)`, nil},
		{"label column without header", "1,0\n", []dataset.Option{dataset.WithLabelColumn("y")}, `dataset: bad.csv: line 1: label column "y" asked for, but the first row is not a header (it is all numbers)`, nil},
		{"bare quote", "1,2,0\n1,2\"x,1\n", nil, `dataset: bad.csv: line 2: column 4: bare " in non-quoted-field`, nil},
		{"truncated gzip", string(truncatedGzip()), nil, "", io.ErrUnexpectedEOF},
		{"bad gzip header", "\x1f\x8b\x07\x00\x00\x00\x00\x00\x00\x00rest", nil, "dataset: bad.csv: bad gzip header: gzip: invalid header", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dataset.ReadCSV(strings.NewReader(tc.input), "bad.csv", tc.opts...)
			if err == nil {
				t.Fatal("no error")
			}
			if tc.want != "" && err.Error() != tc.want {
				t.Errorf("error\n%s\nwant\n%s", err, tc.want)
			}
			var fe *dataset.FormatError
			if !errors.As(err, &fe) || fe.File != "bad.csv" || !errors.Is(err, dataset.ErrFormat) {
				t.Errorf("error %v is not a FormatError for bad.csv matching ErrFormat", err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v does not match %v", err, tc.is)
			}
		})
	}
}

func TestReadCSVTruncatedGzipLine(t *testing.T) {
	// The error names the line being read when the stream ended, past the rows read whole.
	_, err := dataset.ReadCSV(bytes.NewReader(truncatedGzip()), "cut.csv.gz")
	var fe *dataset.FormatError
	if !errors.As(err, &fe) || fe.Line < 2 || fe.Line > 2000 {
		t.Fatalf("error %v, want a line in 2..2000", err)
	}
	want := "input ends early (truncated file or gzip stream): unexpected EOF"
	if !strings.HasSuffix(err.Error(), want) {
		t.Errorf("error %q does not end with %q", err, want)
	}
}
