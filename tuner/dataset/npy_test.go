package dataset_test

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fhetune/fhetune/tuner/dataset"
)

func TestReadNumPy(t *testing.T) {
	tests := []struct {
		name  string
		x, y  any
		want  []float64 // all features, row-major
		y2    []int
		k     int
		shape []int
	}{
		{"float32 features, int64 labels", [][2]float32{{1.5, -2}, {3, 4}, {0, 0.25}}, []int64{0, 2, 1},
			[]float64{1.5, -2, 3, 4, 0, 0.25}, []int{0, 2, 1}, 3, nil},
		{"float64 features, uint8 labels", [][3]float64{{1e300, -1e-300, 0}, {7, 8, 9}}, []uint8{1, 0},
			[]float64{1e300, -1e-300, 0, 7, 8, 9}, []int{1, 0}, 2, nil},
		{"int64 features, int32 labels", [][2]int64{{-5, 7}, {1 << 40, 0}}, []int32{0, 1},
			[]float64{-5, 7, 1 << 40, 0}, []int{0, 1}, 2, nil},
		{"uint8 features, float labels holding integers", [][2]uint8{{0, 255}, {17, 3}, {9, 9}}, []float64{0, 1, 0},
			[]float64{0, 255, 17, 3, 9, 9}, []int{0, 1, 0}, 2, nil},
		{"bool labels", [][1]int16{{-3}, {3}}, []bool{false, true},
			[]float64{-3, 3}, []int{0, 1}, 2, nil},
		{"grey images (N, H, W)", [][2][3]uint8{{{1, 2, 3}, {4, 5, 6}}, {{7, 8, 9}, {10, 11, 12}}}, []int64{1, 0},
			[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, []int{1, 0}, 2, []int{2, 3}},
		{"images (N, C, H, W)", [][1][2][2]float32{{{{1, 2}, {3, 4}}}, {{{5, 6}, {7, 8}}}}, []uint16{0, 1},
			[]float64{1, 2, 3, 4, 5, 6, 7, 8}, []int{0, 1}, 2, []int{1, 2, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			xb, yb := npyBytes(t, tc.x), npyBytes(t, tc.y)
			zb := npzBytes(t, map[string]any{"x": tc.x, "y": tc.y, "other": []float64{1}})
			xPath := writeFile(t, dir, "X.npy", xb)
			yPath := writeFile(t, dir, "y.npy", yb)
			zPath := writeFile(t, dir, "data.npz", zb)
			check := func(d *dataset.Dataset, err error, name string) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
				if err := d.Validate(); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(d.X.RawMatrix().Data, tc.want) || !slices.Equal(d.Y, tc.y2) || d.Classes != tc.k ||
					!slices.Equal(d.Shape, tc.shape) || d.Name != name {
					t.Errorf("X %v Y %v Classes %d Shape %v Name %q\nwant X %v Y %v Classes %d Shape %v Name %q",
						d.X.RawMatrix().Data, d.Y, d.Classes, d.Shape, d.Name, tc.want, tc.y2, tc.k, tc.shape, name)
				}
				if tc.shape == nil && d.Shape != nil {
					t.Errorf("Shape %v for a 2-D array, want nil", d.Shape)
				}
			}
			d, err := dataset.ReadNPY(bytes.NewReader(xb), bytes.NewReader(yb), "X.npy", "y.npy")
			check(d, err, "X.npy,y.npy")
			d, err = dataset.ReadNPY(bytes.NewReader(gz(xb)), bytes.NewReader(gz(yb)), "X.npy.gz", "y.npy.gz")
			check(d, err, "X.npy.gz,y.npy.gz")
			d, err = dataset.ReadNPZ(bytes.NewReader(zb), int64(len(zb)), "data.npz")
			check(d, err, "data.npz")
			d, err = dataset.Load("npy:" + xPath + "," + yPath)
			check(d, err, "npy:"+xPath+","+yPath)
			d, err = dataset.Load("npz:" + zPath)
			check(d, err, "npz:"+zPath)
		})
	}
}

// leBytes and beBytes encode values little- and big-endian, as numpy lays them out.
func leBytes(v any) []byte {
	b, err := binary.Append(nil, binary.LittleEndian, v)
	if err != nil {
		panic(err)
	}
	return b
}

func beBytes(v any) []byte {
	b, err := binary.Append(nil, binary.BigEndian, v)
	if err != nil {
		panic(err)
	}
	return b
}

// fortranOf lays out the values of a C-order array of the given shape in Fortran
// (column-major) order.
func fortranOf(c []float64, shape []int) []float64 {
	f := make([]float64, 0, len(c))
	idx := make([]int, len(shape))
	for range c {
		at := 0
		for j := range shape {
			at = at*shape[j] + idx[j]
		}
		f = append(f, c[at])
		for j := range idx { // first dimension fastest
			if idx[j]++; idx[j] < shape[j] {
				break
			}
			idx[j] = 0
		}
	}
	return f
}

func TestReadNPYLayouts(t *testing.T) {
	seq := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = float64(i)
		}
		return v
	}
	labels3 := npyV1("<i8", false, []int{3}, leBytes([]int64{0, 1, 1}))
	labels2 := npyV1("<i8", false, []int{2}, leBytes([]int64{0, 1}))
	tests := []struct {
		name  string
		x, y  []byte
		want  []float64
		shape []int
	}{
		{"version 1.0, C order", npyV1("<f8", false, []int{3, 2}, leBytes(seq(6))), labels3, seq(6), nil},
		{"Fortran order 2-D", npyV1("<f8", true, []int{3, 2}, leBytes(fortranOf(seq(6), []int{3, 2}))), labels3, seq(6), nil},
		{"Fortran order 3-D", npyV1("<f8", true, []int{2, 2, 3}, leBytes(fortranOf(seq(12), []int{2, 2, 3}))), labels2,
			seq(12), []int{2, 3}},
		{"Fortran order 4-D int32", npyV1("<i4", true, []int{2, 1, 2, 3},
			leBytes(toInt32(fortranOf(seq(12), []int{2, 1, 2, 3})))), labels2, seq(12), []int{1, 2, 3}},
		{"Fortran labels", npyV1("<f8", false, []int{3, 1}, leBytes([]float64{5, 6, 7})),
			npyV1("<u2", true, []int{3}, leBytes([]uint16{1, 0, 1})), []float64{5, 6, 7}, nil},
		{"big-endian", npyV1(">f8", false, []int{2, 2}, beBytes([]float64{1.5, -2, 1e10, 0})),
			npyV1(">i4", false, []int{2}, beBytes([]int32{1, 0})), []float64{1.5, -2, 1e10, 0}, nil},
		{"float16", npyV1("<f2", false, []int{2, 2}, leBytes([]uint16{0x3e00, 0xc000, 0x3400, 0x7bff})), labels2,
			[]float64{1.5, -2, 0.25, 65504}, nil},
		{"int8 and bool features", npyV1("|i1", false, []int{2, 2}, []byte{0xff, 0x80, 1, 0x7f}), labels2,
			[]float64{-1, -128, 1, 127}, nil},
		{"uint64 features", npyV1("<u8", false, []int{2, 1}, leBytes([]uint64{1 << 63, 3})), labels2,
			[]float64{1 << 63, 3}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := dataset.ReadNPY(bytes.NewReader(tc.x), bytes.NewReader(tc.y), "x.npy", "y.npy")
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Validate(); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(d.X.RawMatrix().Data, tc.want) || !slices.Equal(d.Shape, tc.shape) {
				t.Errorf("X %v Shape %v, want %v %v", d.X.RawMatrix().Data, d.Shape, tc.want, tc.shape)
			}
		})
	}
	// The labels of "Fortran labels" and "big-endian" come through too.
	d, err := dataset.ReadNPY(bytes.NewReader(tests[5].x), bytes.NewReader(tests[5].y), "x.npy", "y.npy")
	if err != nil || !slices.Equal(d.Y, []int{1, 0}) {
		t.Errorf("big-endian labels: %v, %v", d, err)
	}
}

func toInt32(v []float64) []int32 {
	out := make([]int32, len(v))
	for i, x := range v {
		out[i] = int32(x)
	}
	return out
}

// checkFormatError checks that err is a one-line FormatError for file matching ErrFormat
// (and is, when not nil), with the message want (when not empty).
func checkFormatError(t *testing.T, err error, file, want string, is error) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if want != "" && err.Error() != want {
		t.Errorf("error\n%s\nwant\n%s", err, want)
	}
	var fe *dataset.FormatError
	if !errors.As(err, &fe) || fe.File != file || !errors.Is(err, dataset.ErrFormat) {
		t.Errorf("error %v is not a FormatError for %s matching ErrFormat", err, file)
	}
	if is != nil && !errors.Is(err, is) {
		t.Errorf("error %v does not match %v", err, is)
	}
	if !strings.HasPrefix(err.Error(), "dataset: "+file+": ") || strings.ContainsAny(err.Error(), "\n\r") {
		t.Errorf("error %q: want one line starting %q", err, "dataset: "+file+": ")
	}
}

func TestReadNPYErrors(t *testing.T) {
	goodX := npyV1("<f8", false, []int{3, 2}, leBytes([]float64{1, 2, 3, 4, 5, 6})) // data at byte 128
	goodY := npyV1("<i8", false, []int{3}, leBytes([]int64{0, 1, 1}))
	nan, inf := math.NaN(), math.Inf(1)
	v2Huge := append([]byte("\x93NUMPY\x02\x00"), 0xf0, 0xff, 0xff, 0xff)
	version3 := slices.Clone(goodX)
	version3[6] = 3
	tests := []struct {
		name string
		x, y []byte
		opts []dataset.Option
		file string
		want string // the whole message; "" checks only the prefix
		is   error
	}{
		{"csv text", []byte("1,2,0\n3,4,1\n"), goodY, nil, "x.npy",
			`dataset: x.npy: byte offset 0: not a .npy file: it starts with "1,2,0\n", not the NumPy magic "\x93NUMPY"`, nil},
		{"an npz", npzBytes(t, map[string]any{"x": []float64{1}}), goodY, nil, "x.npy",
			`dataset: x.npy: byte offset 0: not a .npy file: it starts with "PK\x03\x04\x14\x00", not the NumPy magic "\x93NUMPY" (it is a zip archive: a .npz?)`, nil},
		{"empty", nil, goodY, nil, "x.npy",
			"dataset: x.npy: byte offset 0: npy header ends early (truncated file?): unexpected EOF", io.ErrUnexpectedEOF},
		{"truncated preamble", goodX[:9], goodY, nil, "x.npy",
			"dataset: x.npy: byte offset 9: npy header ends early (truncated file?): unexpected EOF", io.ErrUnexpectedEOF},
		{"truncated header", goodX[:40], goodY, nil, "x.npy",
			"dataset: x.npy: byte offset 40: npy header ends early (truncated file?): unexpected EOF", io.ErrUnexpectedEOF},
		{"version 3", version3, goodY, nil, "x.npy",
			"dataset: x.npy: byte offset 6: npy format version 3.0 is not supported (want 1.0 or 2.0)", nil},
		{"huge header length", v2Huge, goodY, nil, "x.npy",
			"dataset: x.npy: byte offset 8: npy header length 4294967280 exceeds 65536 bytes", nil},
		{"zero header length", []byte("\x93NUMPY\x01\x00\x00\x00"), goodY, nil, "x.npy",
			"dataset: x.npy: byte offset 8: npy header length is 0", nil},
		{"header without newline", []byte("\x93NUMPY\x01\x00\x04\x00{}  "), goodY, nil, "x.npy",
			"dataset: x.npy: byte offset 13: npy header does not end with a newline", nil},
		{"not a header dictionary", []byte("\x93NUMPY\x01\x00\x0b\x00{'foo': 1}\n"), goodY, nil, "x.npy",
			"dataset: x.npy: byte offset 10: npy header: npy: invalid dictionary format", nil},
		{"keys out of order", []byte("\x93NUMPY\x01\x00\x3c\x00{'shape': (1, 1), 'fortran_order': False, 'descr': '<f8', }\n"), goodY, nil, "x.npy",
			"", nil},
		{"bad fortran_order", bytes.Replace(goodX, []byte("False"), []byte("Maybe"), 1), goodY, nil, "x.npy",
			"dataset: x.npy: byte offset 10: npy header: npy: invalid 'fortran_order' value (Maybe)", nil},
		{"string dtype", npyV1("<U3", false, []int{3, 2}, make([]byte, 72)), goodY, nil, "x.npy",
			"dataset: x.npy: byte offset 10: npy header: dtype '<U3' is not a real number type; want float, integer or bool values", nil},
		{"complex dtype", npyV1("<c16", false, []int{3, 2}, make([]byte, 96)), goodY, nil, "x.npy",
			"dataset: x.npy: byte offset 10: npy header: dtype '<c16' is not a real number type; want float, integer or bool values", nil},
		{"object dtype", npyV1("|O", false, []int{3, 2}, nil), goodY, nil, "x.npy",
			"dataset: x.npy: byte offset 10: npy header: dtype '|O' is not a real number type; want float, integer or bool values", nil},
		{"datetime dtype", npyV1("<M8[s]", false, []int{3, 2}, nil), goodY, nil, "x.npy",
			"dataset: x.npy: byte offset 10: npy header: dtype '<M8[s]' is not a real number type; want float, integer or bool values", nil},
		{"negative dimension", npyV1("<f8", false, []int{-1, 2}, nil), goodY, nil, "x.npy",
			"dataset: x.npy: byte offset 10: npy header: shape (-1, 2) has a negative dimension", nil},
		{"huge shape", npyV1("<f8", false, []int{1 << 40, 1 << 40}, nil), goodY, nil, "x.npy",
			"dataset: x.npy: byte offset 10: npy header: shape (1099511627776, 1099511627776) of '<f8' values announces more than 8589934592 bytes", nil},
		{"truncated data", goodX[:len(goodX)-5], goodY, nil, "x.npy",
			"dataset: x.npy: byte offset 171: data end after 43 of 48 bytes (truncated file?): unexpected EOF", io.ErrUnexpectedEOF},
		{"truncated gzip", gz(goodX)[:len(gz(goodX))-10], goodY, nil, "x.npy", "", io.ErrUnexpectedEOF},
		{"trailing data", append(slices.Clone(goodX), 0), goodY, nil, "x.npy",
			"dataset: x.npy: byte offset 176: trailing data after the 48 bytes of a '<f8' array of shape (3, 2)", nil},
		{"1-D features", npyV1("<f8", false, []int{3}, leBytes([]float64{1, 2, 3})), goodY, nil, "x.npy",
			"dataset: x.npy: byte offset 10: features: shape (3,): want (rows, features) or (rows, d1, d2, ...)", nil},
		{"scalar features", npyV1("<f8", false, nil, leBytes(1.0)), goodY, nil, "x.npy",
			"dataset: x.npy: byte offset 10: features: shape (): want (rows, features) or (rows, d1, d2, ...)", nil},
		{"no rows", npyV1("<f8", false, []int{0, 2}, nil), goodY, nil, "x.npy",
			"dataset: x.npy: byte offset 10: features: shape (0, 2): no rows", dataset.ErrEmpty},
		{"no features", npyV1("<f8", false, []int{3, 2, 0}, nil), goodY, nil, "x.npy",
			"dataset: x.npy: byte offset 10: features: shape (3, 2, 0): no features", dataset.ErrEmpty},
		{"NaN feature", npyV1("<f8", false, []int{3, 2}, leBytes([]float64{1, 2, 3, nan, 5, 6})), goodY, nil, "x.npy",
			"dataset: x.npy: byte offset 152: features: x[1, 1] is NaN; every value must be finite", nil},
		{"infinite float32 feature", npyV1("<f4", false, []int{3, 1, 2}, leBytes([]float32{1, 2, 3, 4, 5, float32(-inf)})), goodY, nil, "x.npy",
			"dataset: x.npy: byte offset 148: features: x[2, 0, 1] is -Inf; every value must be finite", nil},
		{"infinite feature, Fortran order", npyV1("<f8", true, []int{3, 2}, leBytes([]float64{1, 2, 3, 4, inf, 6})), goodY, nil, "x.npy",
			"dataset: x.npy: byte offset 160: features: x[1, 1] is +Inf; every value must be finite", nil},
		{"2-D labels", goodX, npyV1("<i8", false, []int{3, 1}, leBytes([]int64{0, 1, 1})), nil, "y.npy",
			"dataset: y.npy: byte offset 10: labels: shape (3, 1): want (rows,), one label per row", nil},
		{"no labels", goodX, npyV1("<i8", false, []int{0}, nil), nil, "y.npy",
			"dataset: y.npy: byte offset 10: labels: shape (0,): no rows", dataset.ErrEmpty},
		{"negative label", goodX, npyV1("<i8", false, []int{3}, leBytes([]int64{0, 1, -1})), nil, "y.npy",
			"dataset: y.npy: byte offset 144: labels: y[2] = -1 is negative; labels are the classes 0..K-1", nil},
		{"fractional label", goodX, npyV1("<f4", false, []int{3}, leBytes([]float32{0, 1.5, 1})), nil, "y.npy",
			"dataset: y.npy: byte offset 132: labels: y[1] = 1.5 is not an integer", nil},
		{"NaN label", goodX, npyV1("<f8", false, []int{3}, leBytes([]float64{nan, 0, 1})), nil, "y.npy",
			"dataset: y.npy: byte offset 128: labels: y[0] = NaN is not an integer", nil},
		{"huge label", goodX, npyV1("<u8", false, []int{3}, leBytes([]uint64{0, 1000, 1})), nil, "y.npy",
			"dataset: y.npy: byte offset 136: labels: y[1] = 1000 out of range 0..999 (at most 1000 classes)", nil},
		{"label above WithClasses", goodX, npyV1("|u1", false, []int{3}, []byte{0, 1, 2}), []dataset.Option{dataset.WithClasses(2)}, "y.npy",
			"dataset: y.npy: byte offset 130: labels: y[2] = 2 out of range 0..1 (2 classes)", nil},
		{"string labels", goodX, npyV1("<U1", false, []int{3}, make([]byte, 12)), nil, "y.npy",
			"dataset: y.npy: byte offset 10: npy header: dtype '<U1' is not a real number type; want float, integer or bool values", nil},
		{"truncated labels", goodX, goodY[:134], nil, "y.npy",
			"dataset: y.npy: byte offset 134: data end after 6 of 24 bytes (truncated file?): unexpected EOF", io.ErrUnexpectedEOF},
		{"more labels than rows", goodX, npyV1("<i8", false, []int{4}, leBytes([]int64{0, 1, 1, 0})), nil, "y.npy",
			"dataset: y.npy: 4 labels, but x.npy has 3 rows", nil},
		{"missing class", goodX, npyV1("<i8", false, []int{3}, leBytes([]int64{0, 2, 2})), nil, "y.npy",
			"dataset: y.npy: labels: no sample has label 1; labels must be the integers 0..K-1 with every class present (K = 3, the largest label plus one)", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dataset.ReadNPY(bytes.NewReader(tc.x), bytes.NewReader(tc.y), "x.npy", "y.npy", tc.opts...)
			checkFormatError(t, err, tc.file, tc.want, tc.is)
		})
	}
}

// zipOf builds a zip archive of raw members (name, content), stored uncompressed.
func zipOf(t *testing.T, members ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for i := 0; i < len(members); i += 2 {
		f, err := w.CreateHeader(&zip.FileHeader{Name: members[i], Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte(members[i+1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestReadNPZErrors(t *testing.T) {
	x := [][2]float64{{1, 2}, {3, 4}, {5, 6}}
	y := []int64{0, 1, 1}
	good := npzBytes(t, map[string]any{"x": x, "y": y})
	goodX := string(npyV1("<f8", false, []int{3, 2}, leBytes([]float64{1, 2, 3, 4, 5, 6})))
	goodY := string(npyV1("<i8", false, []int{3}, leBytes(y)))
	badCRC := zipOf(t, "x.npy", goodX, "y.npy", goodY)
	badCRC[bytes.Index(badCRC, []byte(goodX))+130] ^= 0x01 // a data byte of x.npy
	tests := []struct {
		name string
		zip  []byte
		want string // the whole message; "" checks only the prefix
		is   error
	}{
		{"not a zip", []byte("1,2,0\n"), "dataset: d.npz: not a .npz archive (npz: could not create zip reader: zip: not a valid zip file)", nil},
		{"a .npy", npyBytes(t, x), "dataset: d.npz: not a .npz archive but a single .npy array (npz: could not create zip reader: zip: not a valid zip file)", nil},
		{"truncated", good[:len(good)-30], "dataset: d.npz: not a .npz archive (npz: could not create zip reader: zip: not a valid zip file)", nil},
		{"empty archive", zipOf(t), "dataset: d.npz: no array named x or X; the archive holds no arrays", nil},
		{"no features", npzBytes(t, map[string]any{"data": x, "y": y, "target": y}),
			"dataset: d.npz: no array named x or X; arrays found: data, target, y", nil},
		{"no labels", npzBytes(t, map[string]any{"X": x, "labels": y}), "dataset: d.npz: no array named y; arrays found: X, labels", nil},
		{"x and X", npzBytes(t, map[string]any{"X": x, "x": x, "y": y}),
			"dataset: d.npz: both x.npy and X.npy are arrays; which are the features? (keep one)", nil},
		{"row count mismatch", npzBytes(t, map[string]any{"x": x, "y": []int64{0, 1}}),
			"dataset: d.npz: y.npy holds 2 labels, but x.npy has 3 rows", nil},
		{"truncated member", zipOf(t, "x.npy", goodX[:len(goodX)-5], "y.npy", goodY),
			"dataset: d.npz: x.npy: byte offset 171: data end after 43 of 48 bytes (truncated file?): unexpected EOF", io.ErrUnexpectedEOF},
		{"member not npy", zipOf(t, "X.npy", "hello", "y.npy", goodY),
			`dataset: d.npz: X.npy: byte offset 0: not a .npy file: it starts with "hello", not the NumPy magic "\x93NUMPY"`, nil},
		{"NaN feature", zipOf(t, "X.npy", string(npyV1("<f8", false, []int{3, 2}, leBytes([]float64{1, 2, 3, math.NaN(), 5, 6}))), "y.npy", goodY),
			"dataset: d.npz: X.npy: byte offset 152: features: X[1, 1] is NaN; every value must be finite", nil},
		{"negative label", npzBytes(t, map[string]any{"x": x, "y": []int8{0, -1, 1}}),
			"dataset: d.npz: y.npy: byte offset 77: labels: y[1] = -1 is negative; labels are the classes 0..K-1", nil},
		{"missing class", npzBytes(t, map[string]any{"x": x, "y": []int8{0, 2, 2}}),
			"dataset: d.npz: y.npy: labels: no sample has label 1; labels must be the integers 0..K-1 with every class present (K = 3, the largest label plus one)", nil},
		{"3-D labels", npzBytes(t, map[string]any{"x": x, "y": [][1][1]int8{{{0}}, {{1}}, {{1}}}}),
			"dataset: d.npz: y.npy: byte offset 12: labels: shape (3, 1, 1): want (rows,), one label per row", nil},
		{"bad checksum", badCRC, "dataset: d.npz: x.npy: byte offset 176: read: zip: checksum error", zip.ErrChecksum},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dataset.ReadNPZ(bytes.NewReader(tc.zip), int64(len(tc.zip)), "d.npz")
			checkFormatError(t, err, "d.npz", tc.want, tc.is)
		})
	}
}

func TestLoadNumPyErrors(t *testing.T) {
	dir := t.TempDir()
	xPath := writeFile(t, dir, "x.npy", npyBytes(t, [][2]float64{{1, 2}, {3, 4}}))
	yPath := writeFile(t, dir, "y.npy", npyBytes(t, []int64{0, 1}))
	missing := filepath.Join(dir, "none.npz")
	for _, name := range []string{"npz:" + missing, "npy:" + xPath + "," + filepath.Join(dir, "none.npy"), "npy:" + filepath.Join(dir, "none.npy") + "," + yPath} {
		_, err := dataset.Load(name)
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "none.np") || strings.Contains(err.Error(), "\n") {
			t.Errorf("Load(%q): %v, want a one-line error naming the missing file", name, err)
		}
	}
	for name, want := range map[string]string{
		"npz:":                  `dataset: unknown data set: "npz:": no path after "npz:"`,
		"npy:":                  `dataset: unknown data set: "npy:": want npy:X.npy,Y.npy, the features and the labels file separated by a comma`,
		"npy:" + xPath:          `dataset: unknown data set: "npy:` + xPath + `": want npy:X.npy,Y.npy, the features and the labels file separated by a comma`,
		"npy:a.npy,b.npy,c.npy": `dataset: unknown data set: "npy:a.npy,b.npy,c.npy": want npy:X.npy,Y.npy, the features and the labels file separated by a comma (the paths hold commas: 0 ways to split them into two existing files)`,
		"npy:a.npy,":            `dataset: unknown data set: "npy:a.npy,": want npy:X.npy,Y.npy, the features and the labels file separated by a comma`,
		"numpy":                 `dataset: unknown data set: "numpy" (want one of digits, breast-cancer, fashion-mnist, or csv:PATH, npz:PATH, npy:X.npy,Y.npy)`,
	} {
		_, err := dataset.Load(name)
		if !errors.Is(err, dataset.ErrUnknownDataset) || err.Error() != want {
			t.Errorf("Load(%q): %v\nwant %s", name, err, want)
		}
	}
	// A .npy given as npz: the error says what it is.
	_, err := dataset.Load("npz:" + xPath)
	checkFormatError(t, err, xPath, "", nil)
	if !strings.Contains(err.Error(), "a single .npy array") {
		t.Errorf("error %v does not say the file is a .npy", err)
	}
}

// TestLoadONNXTestdataNPZ reads the data set that goes with the ONNX test models, when
// it is there.
func TestLoadONNXTestdataNPZ(t *testing.T) {
	path := filepath.Join("..", "onnx", "testdata", "data.npz")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s: %v", path, err)
	}
	d, err := dataset.Load("npz:" + path)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d samples, %d features, shape %v, %d classes", d.Name, d.Len(), d.Features(), d.Shape, d.Classes)
}
