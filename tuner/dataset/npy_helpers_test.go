package dataset_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio/npy"
	"codeberg.org/sbinet/npyio/npz"
)

// npyBytes encodes v with npyio's writer (format version 2.0, C order).
func npyBytes(t testing.TB, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := npy.Write(&b, v); err != nil {
		t.Fatalf("npy.Write(%T): %v", v, err)
	}
	return b.Bytes()
}

// npzBytes builds an .npz archive with npyio's writer, one member per array, named as
// numpy.savez names them (key + ".npy"), in sorted order.
func npzBytes(t testing.TB, arrays map[string]any) []byte {
	t.Helper()
	var b bytes.Buffer
	w := npz.NewWriter(&b)
	keys := make([]string, 0, len(arrays))
	for k := range arrays {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := w.Write(k+".npy", arrays[k]); err != nil {
			t.Fatalf("npz write %s: %v", k, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// npyV1 encodes an array as numpy.save does, format version 1.0, for what npyio's writer
// cannot make: Fortran order, big-endian or float16 data. descr is the dtype ('<f8'), data
// the raw values in file order.
func npyV1(descr string, fortran bool, shape []int, data []byte) []byte {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.Itoa(d)
	}
	sh := "(" + strings.Join(dims, ", ") + ")"
	if len(shape) == 1 {
		sh = "(" + dims[0] + ",)"
	}
	order := "False"
	if fortran {
		order = "True"
	}
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr, order, sh)
	// numpy pads the header with spaces and a newline to a multiple of 64 bytes.
	total := 10 + len(dict) + 1
	pad := (64 - total%64) % 64
	hdr := dict + strings.Repeat(" ", pad) + "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), 0, 0)
	binary.LittleEndian.PutUint16(b[8:], uint16(len(hdr)))
	b = append(b, hdr...)
	return append(b, data...)
}

// writeFile writes b to name in dir and returns the path.
func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
