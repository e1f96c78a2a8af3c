package dataset

// NumPy files are decoded by codeberg.org/sbinet/npyio rather than by hand: it reads every
// numeric dtype and byte order numpy writes (float16 and big-endian arrays included), and
// .npz archives through its npz subpackage. This file adds only what the library takes on
// trust or leaves to its caller: a bound on the header length it allocates, the data length
// checked against the shape before any value is decoded, the shape and the values checked
// against what a Dataset needs, Fortran-order arrays put in row-major order (the library
// returns the values in file order), and errors that say where.

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"codeberg.org/sbinet/npyio/npy"
	"codeberg.org/sbinet/npyio/npy/float16"
	"codeberg.org/sbinet/npyio/npz"
	"gonum.org/v1/gonum/mat"
)

// maxNPYHeaderLen bounds the header length a .npy file may announce: the library allocates
// that many bytes before reading them, and a version 2 header announces up to 4 GiB.
// numpy itself refuses headers longer than 10,000 bytes unless told otherwise.
const maxNPYHeaderLen = 1 << 16

// maxNPYBytes bounds the data a .npy header may announce (8 GiB), as for IDX files.
const maxNPYBytes = 1 << 33

// ReadNPY reads a labelled data set from two NumPy .npy streams, as numpy.save writes
// them: x holds the features and y the labels (a gzip-compressed stream is detected and
// decompressed). xFile and yFile name them in errors; the Dataset's Name is "xFile,yFile".
//
// Arrays (any byte order, C or Fortran order):
//   - x: float, integer or bool values of shape (rows, features), or (rows, d1, d2, ...)
//     for samples with a layout such as images: each sample is flattened in row-major
//     order into d1·d2·… features and [Dataset.Shape] keeps [d1, d2, ...]. Every value
//     must be finite.
//   - y: one label per row, shape (rows,): integers (or bools, or floats holding exact
//     integers) 0..K-1; they are not remapped. K is set by [WithClasses], or else it is
//     the largest label plus one (at most [MaxClasses]) and every class 0..K-1 must have a
//     sample, as for [ReadCSV].
//
// Errors are [*FormatError]s naming the file and, for anything in its bytes, the byte
// offset (in the decompressed stream): a missing NumPy magic, an unsupported format
// version, a truncated header (where the input ends; also matching
// io.ErrUnexpectedEOF), a malformed header, a dtype that is not a real number type or a
// wrong shape (the offset of the header dictionary), data shorter than the shape
// announces (where the input ends; also matching io.ErrUnexpectedEOF) or trailing
// bytes, a NaN or infinite feature, a label that is negative, not an integer or out of
// range (the offset of the first bad value, its index in the message); and, naming y's
// file without an offset, a label count that differs from x's row count or a missing
// class. An array without rows or features also matches [ErrEmpty].
func ReadNPY(x, y io.Reader, xFile, yFile string, opts ...Option) (*Dataset, error) {
	cfg := newConfig(opts)
	fx, err := readNPYFeatures(x, xFile, "x")
	if err != nil {
		return nil, err
	}
	labels, err := readNPYLabels(y, yFile, "y", cfg)
	if err != nil {
		return nil, err
	}
	if rows := fx.shape[0]; len(labels) != rows {
		return nil, fileError(yFile, "%d labels, but %s has %d rows", len(labels), xFile, rows)
	}
	k, err := labelClasses(labels, cfg)
	if err != nil {
		return nil, fileError(yFile, "%w", err)
	}
	return fx.dataset(xFile+","+yFile, labels, k), nil
}

// ReadNPZ reads a labelled data set from a NumPy .npz archive of size bytes, as
// numpy.savez and numpy.savez_compressed write it: the features are the array named x or
// X and the labels the array named y, as [ReadNPY] describes them; other arrays are
// ignored. file names the archive in errors and becomes the Dataset's Name.
//
// Errors are [*FormatError]s naming file: an input that is not a zip archive, no array
// x or X, or y (the message lists the arrays found), both x and X, and the errors of
// [ReadNPY], which name the archive member (x.npy) and the byte offset in it.
func ReadNPZ(r io.ReaderAt, size int64, file string, opts ...Option) (*Dataset, error) {
	cfg := newConfig(opts)
	zr, err := npz.NewReader(r, size)
	if err != nil {
		var head [8]byte
		n, _ := r.ReadAt(head[:], 0)
		if bytes.HasPrefix(head[:n], npy.Magic[:]) {
			return nil, fileError(file, "not a .npz archive but a single .npy array (%w)", oneLine{err})
		}
		return nil, fileError(file, "not a .npz archive (%w)", oneLine{err})
	}
	names := make([]string, len(zr.Keys()))
	for i, k := range zr.Keys() {
		names[i] = strings.TrimSuffix(k, ".npy")
	}
	member := func(want ...string) (string, string, error) {
		var found []string
		for _, w := range want {
			if i := slices.Index(names, w); i >= 0 {
				found = append(found, zr.Keys()[i])
			}
		}
		switch len(found) {
		case 0:
			return "", "", fileError(file, "no array named %s; %s", strings.Join(want, " or "), listArrays(names))
		case 1:
			return found[0], strings.TrimSuffix(found[0], ".npy"), nil
		default:
			return "", "", fileError(file, "both %s are arrays; which are the features? (keep one)", strings.Join(found, " and "))
		}
	}
	xMember, xName, err := member("x", "X")
	if err != nil {
		return nil, err
	}
	yMember, yName, err := member("y")
	if err != nil {
		return nil, err
	}

	var fx *npyFeatures
	err = withMember(zr, file, xMember, func(rc io.Reader) error {
		var err error
		fx, err = readNPYFeatures(rc, xMember, xName)
		return err
	})
	if err != nil {
		return nil, err
	}
	var labels []int
	err = withMember(zr, file, yMember, func(rc io.Reader) error {
		var err error
		labels, err = readNPYLabels(rc, yMember, yName, cfg)
		return err
	})
	if err != nil {
		return nil, err
	}
	if rows := fx.shape[0]; len(labels) != rows {
		return nil, fileError(file, "%s holds %d labels, but %s has %d rows", yMember, len(labels), xMember, rows)
	}
	k, err := labelClasses(labels, cfg)
	if err != nil {
		return nil, fileError(file, "%s: %w", yMember, err)
	}
	return fx.dataset(file, labels, k), nil
}

// withMember opens the archive member and runs read on it; a FormatError about the
// member becomes one about the archive that names the member.
func withMember(zr *npz.Reader, file, member string, read func(io.Reader) error) error {
	rc, err := zr.Open(member)
	if err != nil {
		return fileError(file, "%s: %w", printable(member), oneLine{err})
	}
	defer rc.Close()
	err = read(rc)
	var fe *FormatError
	if errors.As(err, &fe) {
		where := printable(fe.File)
		if fe.Offset >= 0 {
			where += fmt.Sprintf(": byte offset %d", fe.Offset)
		}
		return &FormatError{File: file, Offset: -1, Err: fmt.Errorf("%s: %w", where, fe.Err)}
	}
	return err
}

// listArrays describes the arrays of an archive for an error message.
func listArrays(names []string) string {
	const most = 20
	switch {
	case len(names) == 0:
		return "the archive holds no arrays"
	case len(names) > most:
		return fmt.Sprintf("arrays found: %s and %d more", printableList(names[:most]), len(names)-most)
	default:
		return "arrays found: " + printableList(names)
	}
}

// loadNPZFile reads the .npz archive at path for [Load].
func loadNPZFile(path string, cfg config) (*Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: open npz: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("dataset: open npz: %w", err)
	}
	d, err := ReadNPZ(f, st.Size(), path, withConfig(cfg))
	if err != nil {
		return nil, err
	}
	d.Name = "npz:" + path
	return d, nil
}

// loadNPYFiles reads the .npy files at xPath and yPath for [Load].
func loadNPYFiles(xPath, yPath string, cfg config) (*Dataset, error) {
	fx, err := os.Open(xPath)
	if err != nil {
		return nil, fmt.Errorf("dataset: open npy: %w", err)
	}
	defer fx.Close()
	fy, err := os.Open(yPath)
	if err != nil {
		return nil, fmt.Errorf("dataset: open npy: %w", err)
	}
	defer fy.Close()
	d, err := ReadNPY(fx, fy, xPath, yPath, withConfig(cfg))
	if err != nil {
		return nil, err
	}
	d.Name = "npy:" + xPath + "," + yPath
	return d, nil
}

// withConfig passes a resolved configuration on to a reader.
func withConfig(cfg config) Option { return func(c *config) { *c = cfg } }

// npyFeatures is a features array: its shape, and its values in row-major order.
type npyFeatures struct {
	shape  []int
	values []float64
}

// dataset builds the Dataset of these features and the labels.
func (fx *npyFeatures) dataset(name string, labels []int, classes int) *Dataset {
	rows := fx.shape[0]
	d := &Dataset{
		Name:    name,
		X:       mat.NewDense(rows, len(fx.values)/rows, fx.values),
		Y:       labels,
		Classes: classes,
	}
	if len(fx.shape) > 2 {
		d.Shape = slices.Clone(fx.shape[1:])
	}
	return d
}

// readNPYFeatures reads the features array (named name in messages) from r.
func readNPYFeatures(r io.Reader, file, name string) (*npyFeatures, error) {
	a, err := readNPYArray(r, file, func(a *npyArray) *FormatError {
		if len(a.shape) < 2 {
			return offsetError(file, a.headerAt, "features: shape %s: want (rows, features) or (rows, d1, d2, ...)", shapeString(a.shape))
		}
		if a.shape[0] == 0 {
			return &FormatError{File: file, Offset: a.headerAt, Err: causeError{fmt.Sprintf("features: shape %s: no rows", shapeString(a.shape)), ErrEmpty}}
		}
		if slices.Contains(a.shape[1:], 0) {
			return &FormatError{File: file, Offset: a.headerAt, Err: causeError{fmt.Sprintf("features: shape %s: no features", shapeString(a.shape)), ErrEmpty}}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if a.isFloat {
		for k, v := range a.values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, offsetError(file, a.dataAt+int64(k)*a.itemSize, "features: %s%s is %v; every value must be finite",
					name, a.index(k), v)
			}
		}
	}
	values := a.values
	if a.fortran {
		values = cOrder(values, a.shape)
	}
	return &npyFeatures{shape: a.shape, values: values}, nil
}

// readNPYLabels reads the labels array (named name in messages) from r: integers below
// cfg's number of classes, or below MaxClasses.
func readNPYLabels(r io.Reader, file, name string, cfg config) ([]int, error) {
	a, err := readNPYArray(r, file, func(a *npyArray) *FormatError {
		if len(a.shape) != 1 {
			return offsetError(file, a.headerAt, "labels: shape %s: want (rows,), one label per row", shapeString(a.shape))
		}
		if a.shape[0] == 0 {
			return &FormatError{File: file, Offset: a.headerAt, Err: causeError{"labels: shape (0,): no rows", ErrEmpty}}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	maxLabel := MaxClasses
	why := fmt.Sprintf("at most %d classes", MaxClasses)
	if cfg.classes > 0 {
		maxLabel = cfg.classes
		why = fmt.Sprintf("%d classes", cfg.classes)
	}
	labels := make([]int, len(a.values))
	for k, v := range a.values {
		var bad string
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0) || v != math.Trunc(v):
			bad = "is not an integer"
		case v < 0:
			bad = "is negative; labels are the classes 0..K-1"
		case v >= float64(maxLabel):
			bad = fmt.Sprintf("out of range 0..%d (%s)", maxLabel-1, why)
		default:
			labels[k] = int(v)
			continue
		}
		return nil, offsetError(file, a.dataAt+int64(k)*a.itemSize, "labels: %s%s = %s %s",
			name, a.index(k), strconv.FormatFloat(v, 'g', -1, 64), bad)
	}
	return labels, nil
}

// labelClasses gives the number of classes of labels: cfg's, or else the largest label
// plus one with every class present.
func labelClasses(labels []int, cfg config) (int, error) {
	if cfg.classes > 0 {
		return cfg.classes, nil
	}
	k := 0
	for _, y := range labels {
		k = max(k, y+1)
	}
	seen := make([]bool, k)
	for _, y := range labels {
		seen[y] = true
	}
	if c := slices.Index(seen, false); c >= 0 {
		return 0, fmt.Errorf("labels: no sample has label %d; labels must be the integers 0..K-1 with every class present (K = %d, the largest label plus one)", c, k)
	}
	return k, nil
}

// npyArray is an array read from a .npy stream, its values widened to float64.
type npyArray struct {
	dtype    string    // the header's descr, e.g. '<f4'
	shape    []int     // dimensions, outermost first
	fortran  bool      // values are in column-major order
	isFloat  bool      // a float dtype: values may be NaN or infinite
	itemSize int64     // bytes per value
	headerAt int64     // byte offset of the header dictionary
	dataAt   int64     // byte offset of the first value
	values   []float64 // in file order
}

// index formats the multi-index of the k-th value in file order, as "[3, 1, 2]".
func (a *npyArray) index(k int) string {
	idx := make([]string, len(a.shape))
	for j := range a.shape {
		if !a.fortran {
			j = len(a.shape) - 1 - j
		}
		idx[j] = strconv.Itoa(k % a.shape[j])
		k /= a.shape[j]
	}
	return "[" + strings.Join(idx, ", ") + "]"
}

// shapeString formats a shape as numpy does: (), (5,), (5, 3).
func shapeString(shape []int) string {
	s := make([]string, len(shape))
	for i, d := range shape {
		s[i] = strconv.Itoa(d)
	}
	if len(s) == 1 {
		return "(" + s[0] + ",)"
	}
	return "(" + strings.Join(s, ", ") + ")"
}

// readNPYArray reads one .npy array from r, after check has accepted its header (shape,
// dtype) and before its data are read. file names r in errors.
func readNPYArray(r io.Reader, file string, check func(*npyArray) *FormatError) (*npyArray, error) {
	dr, err := decompress(r)
	if err != nil {
		return nil, offsetError(file, 0, "%w", err)
	}
	br := bufio.NewReaderSize(dr, 12+maxNPYHeaderLen) // room to peek at a whole header
	headerAt, headerEnd, err := checkNPYPreamble(br, file)
	if err != nil {
		return nil, err
	}
	if headerEnd == headerAt {
		return nil, offsetError(file, 8, "npy header length is 0")
	}
	// The library cuts the header at its last newline without checking there is one.
	if head, _ := br.Peek(int(headerEnd)); len(head) < int(headerEnd) {
		return nil, offsetError(file, int64(len(head)), "npy header ends early (truncated file?): %w", io.ErrUnexpectedEOF)
	} else if head[len(head)-1] != '\n' {
		return nil, offsetError(file, headerEnd-1, "npy header does not end with a newline")
	}

	in := &npyInput{r: br, limit: -1}
	var nr *npy.Reader
	err = safely(func() error {
		var err error
		nr, err = npy.NewReader(in)
		return err
	})
	if err != nil {
		// The library may fail (or panic) on the zeros of a header it could not read whole.
		if in.n < headerEnd {
			return nil, offsetError(file, in.n, "npy header ends early (truncated file?): %w", io.ErrUnexpectedEOF)
		}
		return nil, offsetError(file, headerAt, "npy header: %w", oneLine{err})
	}
	h := nr.Header.Descr
	a := &npyArray{dtype: h.Type, shape: h.Shape, fortran: h.Fortran, headerAt: headerAt, dataAt: in.n}
	if a.shape == nil {
		a.shape = []int{} // a scalar
	}
	if slices.ContainsFunc(a.shape, func(d int) bool { return d < 0 }) {
		return nil, offsetError(file, headerAt, "npy header: shape %s has a negative dimension", shapeString(a.shape))
	}
	var ok bool
	if a.itemSize, a.isFloat, ok = npyDtype(a.dtype); !ok {
		return nil, offsetError(file, headerAt, "npy header: dtype %s is not a real number type; want float, integer or bool values", printable(a.dtype))
	}
	elems := int64(1)
	if !slices.Contains(a.shape, 0) {
		for _, d := range a.shape {
			if elems > maxNPYBytes/a.itemSize/int64(d) { // checked before multiplying: no overflow
				return nil, offsetError(file, headerAt, "npy header: shape %s of %s values announces more than %d bytes",
					shapeString(a.shape), printable(a.dtype), int64(maxNPYBytes))
			}
			elems *= int64(d)
		}
	} else {
		elems = 0
	}
	if fe := check(a); fe != nil {
		return nil, fe
	}

	// The library reads the data to the end of its input; in stops it at the end the
	// shape announces and reports an input that ends before it or goes on after it, so
	// that only whole data of the announced size reach the decoder.
	size := elems * a.itemSize
	in.limit = a.dataAt + size
	var arr npy.Array
	err = safely(func() error { return nr.Read(&arr) })
	switch {
	case in.short:
		return nil, offsetError(file, in.n, "data end after %d of %d bytes (truncated file?): %w",
			in.n-a.dataAt, size, io.ErrUnexpectedEOF)
	case in.trailing:
		return nil, offsetError(file, in.limit, "trailing data after the %d bytes of a %s array of shape %s",
			size, printable(a.dtype), shapeString(a.shape))
	case in.err != nil: // the input's own error, not the library's wrapping of it
		return nil, offsetError(file, in.n, "%w", truncatedOr(in.err))
	case err != nil:
		return nil, offsetError(file, in.n, "read: %w", oneLine{err})
	}
	a.values, ok = npyValues(arr.Data())
	if !ok || int64(len(a.values)) != elems {
		return nil, offsetError(file, a.dataAt, "npyio decoded %d values of type %T, want %d of dtype %s",
			len(a.values), arr.Data(), elems, printable(a.dtype))
	}
	return a, nil
}

// checkNPYPreamble peeks at the fixed start of a .npy stream (magic, version, header
// length) and gives the byte offsets where the header dictionary starts and ends. It
// refuses a header length above maxNPYHeaderLen, which the library would allocate
// unchecked.
func checkNPYPreamble(br *bufio.Reader, file string) (at, end int64, err error) {
	head, _ := br.Peek(12) // fewer at the end of the input
	magic := npy.Magic[:]
	n := min(len(head), len(magic))
	switch {
	case !bytes.Equal(head[:n], magic[:n]):
		hint := ""
		if bytes.HasPrefix(head, []byte("PK\x03\x04")) {
			hint = " (it is a zip archive: a .npz?)"
		}
		return 0, 0, offsetError(file, 0, "not a .npy file: it starts with %q, not the NumPy magic %q%s", head[:min(len(head), 6)], magic, hint)
	case len(head) < 8:
		return 0, 0, offsetError(file, int64(len(head)), "npy header ends early (truncated file?): %w", io.ErrUnexpectedEOF)
	}
	switch major := head[6]; major {
	case 1:
		if len(head) < 10 {
			break
		}
		return 10, 10 + int64(binary.LittleEndian.Uint16(head[8:])), nil
	case 2:
		if len(head) < 12 {
			break
		}
		hl := binary.LittleEndian.Uint32(head[8:])
		if hl > maxNPYHeaderLen {
			return 0, 0, offsetError(file, 8, "npy header length %d exceeds %d bytes", hl, maxNPYHeaderLen)
		}
		return 12, 12 + int64(hl), nil
	default:
		return 0, 0, offsetError(file, 6, "npy format version %d.%d is not supported (want 1.0 or 2.0)", major, head[7])
	}
	return 0, 0, offsetError(file, int64(len(head)), "npy header ends early (truncated file?): %w", io.ErrUnexpectedEOF)
}

// npyDtype gives the size in bytes of a value of a numpy dtype (the header's descr, as
// '<f4') and whether it is a float; ok is false for anything but float, integer and bool
// dtypes of any byte order.
func npyDtype(descr string) (size int64, isFloat, ok bool) {
	var rt reflect.Type
	// The library panics on a descr it cannot parse.
	if safely(func() error { rt = npy.TypeFrom(descr); return nil }) != nil || rt == nil {
		return 0, false, false
	}
	if rt == reflect.TypeFor[float16.Num]() {
		return 2, true, true
	}
	switch rt.Kind() {
	case reflect.Float32, reflect.Float64:
		return int64(rt.Size()), true, true
	case reflect.Bool, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return int64(rt.Size()), false, true
	}
	return 0, false, false
}

// npyValues widens the typed slice the library decoded into float64s (a []float64 is
// returned as is).
func npyValues(data any) ([]float64, bool) {
	switch d := data.(type) {
	case []float64:
		return d, true
	case []float32:
		return widen(d), true
	case []float16.Num:
		v := make([]float64, len(d))
		for i, x := range d {
			v[i] = float64(x.Float32())
		}
		return v, true
	case []int8:
		return widen(d), true
	case []int16:
		return widen(d), true
	case []int32:
		return widen(d), true
	case []int64:
		return widen(d), true
	case []uint8:
		return widen(d), true
	case []uint16:
		return widen(d), true
	case []uint32:
		return widen(d), true
	case []uint64:
		return widen(d), true
	case []bool:
		v := make([]float64, len(d))
		for i, b := range d {
			if b {
				v[i] = 1
			}
		}
		return v, true
	}
	return nil, false
}

// realNumber is the element types widen converts.
type realNumber interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~float32 | ~float64
}

// widen converts src to float64s.
func widen[T realNumber](src []T) []float64 {
	dst := make([]float64, len(src))
	for i, v := range src {
		dst[i] = float64(v)
	}
	return dst
}

// cOrder returns the values of an array of the given shape stored in Fortran
// (column-major) order, in C (row-major) order.
func cOrder(src []float64, shape []int) []float64 {
	dst := make([]float64, len(src))
	stride := make([]int, len(shape)) // of C order
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		stride[i] = s
		s *= shape[i]
	}
	idx := make([]int, len(shape))
	c := 0 // C-order position of idx
	for _, v := range src {
		dst[c] = v
		// Step idx in Fortran order: the first dimension fastest.
		for j := range idx {
			idx[j]++
			c += stride[j]
			if idx[j] < shape[j] {
				break
			}
			c -= shape[j] * stride[j]
			idx[j] = 0
		}
	}
	return dst
}

// safely runs f and turns a panic into an error: the npyio library panics on some
// malformed headers (one without its final newline, keys out of order, an unknown
// dtype), and a bad file must give an error, not crash the program.
func safely(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed (npyio: %s)", printable(fmt.Sprint(p)))
		}
	}()
	return f()
}

// errNPYTrailing stops the library's read at the end of the announced data when the
// input goes on.
var errNPYTrailing = errors.New("trailing data")

// npyInput is the stream the library reads: it counts the bytes consumed, and once limit
// is set (the end of the data) it reads no further, reporting an input that ends before
// limit (short) or goes on after it (trailing). It keeps the first read error other than
// io.EOF (a truncated gzip stream, a zip checksum).
type npyInput struct {
	r        io.Reader
	n        int64 // bytes consumed
	limit    int64 // end of the data; -1 while the header is read
	short    bool
	trailing bool
	err      error
}

func (in *npyInput) Read(p []byte) (int, error) {
	if in.limit >= 0 {
		if in.n >= in.limit {
			// At the end of the data: the input must end too. Reading on also lets a zip
			// member verify its checksum.
			var one [1]byte
			k, err := io.ReadFull(in.r, one[:])
			switch {
			case k > 0:
				in.trailing = true
				return 0, errNPYTrailing
			case errors.Is(err, io.EOF):
				return 0, io.EOF
			default:
				in.err = cmp.Or(in.err, err)
				return 0, err
			}
		}
		p = p[:min(int64(len(p)), in.limit-in.n)]
	}
	k, err := in.r.Read(p)
	in.n += int64(k)
	switch {
	case err == nil:
	case !errors.Is(err, io.EOF):
		in.err = cmp.Or(in.err, err)
	case in.limit >= 0 && in.n < in.limit:
		in.short = true
		err = io.ErrUnexpectedEOF
	}
	return k, err
}

// printable gives s as it is, or quoted when it holds anything unprintable (a newline
// from a garbled header, say), so that messages stay on one line.
func printable(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return strconv.Quote(s)
	}
	return s
}

// printableList joins names, each made printable, with commas.
func printableList(names []string) string {
	p := make([]string, len(names))
	for i, n := range names {
		p[i] = printable(n)
	}
	return strings.Join(p, ", ")
}

// oneLine wraps an error of the library, whose message may quote raw header bytes, so
// that its message stays on one line; errors.Is and errors.As see through it.
type oneLine struct{ err error }

func (e oneLine) Error() string { return printable(e.err.Error()) }
func (e oneLine) Unwrap() error { return e.err }
