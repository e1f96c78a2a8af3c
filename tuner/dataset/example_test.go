package dataset_test

import (
	"bytes"
	"fmt"
	"strings"

	"codeberg.org/sbinet/npyio/npz"

	"github.com/fhetune/fhetune/tuner/dataset"
)

// Load the embedded digits, split them, and standardize every part with statistics of
// the training part only.
func Example() {
	d, err := dataset.Load("digits")
	if err != nil {
		panic(err)
	}
	s, err := d.Split(dataset.SplitConfig{Seed: 1}) // defaults: 10% val, 20% test, 500 calib
	if err != nil {
		panic(err)
	}
	st := dataset.FitStandardizer(s.Train.X)
	test := st.Apply(s.Test.X)
	r, c := test.Dims()
	fmt.Println(d.Len(), d.Shape, d.Classes)
	fmt.Println(s.Train.Len(), s.Val.Len(), s.Test.Len(), s.Calib.Len())
	fmt.Println(r, c)
	// Output:
	// 1797 [1 8 8] 10
	// 1258 180 359 500
	// 359 64
}

// A CSV file with a header, its label in a named column.
func ExampleReadCSV() {
	text := "width,height,kind\n1.0,2.5,1\n0.5,0.5,0\n3,1,2\n"
	d, err := dataset.ReadCSV(strings.NewReader(text), "shapes.csv", dataset.WithLabelColumn("kind"))
	if err != nil {
		panic(err)
	}
	fmt.Println(d.Len(), d.Features(), d.Classes, d.Y)

	_, err = dataset.ReadCSV(strings.NewReader("1,2,0\n3,NaN,1\n"), "bad.csv")
	fmt.Println(err)
	// Output:
	// 3 2 3 [1 0 2]
	// dataset: bad.csv: line 2: column 2: NaN is not allowed
}

// An .npz archive as numpy.savez("data.npz", x=x, y=y) writes it, here built in memory:
// three 2x2 grey images and their labels.
func ExampleReadNPZ() {
	var buf bytes.Buffer
	w := npz.NewWriter(&buf)
	_ = w.Write("x.npy", [][2][2]uint8{{{0, 255}, {255, 0}}, {{9, 9}, {9, 9}}, {{1, 2}, {3, 4}}})
	_ = w.Write("y.npy", []int64{1, 0, 1})
	if err := w.Close(); err != nil {
		panic(err)
	}
	d, err := dataset.ReadNPZ(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "data.npz")
	if err != nil {
		panic(err)
	}
	fmt.Println(d.Len(), d.Features(), d.Shape, d.Classes, d.Y)
	fmt.Println(d.X.RawRowView(2))
	// Output:
	// 3 4 [2 2] 2 [1 0 1]
	// [1 2 3 4]
}
