package dataset

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// IDX data type codes (third byte of the magic number); only unsigned bytes are read.
const idxUnsignedByte = 0x08

// Magic numbers of the two IDX files of an image set.
const (
	// IDXImagesMagic starts an IDX file of images: unsigned bytes, 3 dimensions.
	IDXImagesMagic = 0x00000803
	// IDXLabelsMagic starts an IDX file of labels: unsigned bytes, 1 dimension.
	IDXLabelsMagic = 0x00000801
)

// maxIDXBytes bounds the body an IDX header may announce (8 GiB).
const maxIDXBytes = 1 << 33

// IDX is an array of unsigned bytes read from an IDX file.
type IDX struct {
	// Dims are the dimension sizes, outermost first (samples, rows, columns).
	Dims []int
	// Data holds the values in row-major order; len(Data) is the product of Dims.
	Data []byte
}

// ReadIDX reads an IDX array of unsigned bytes with ndims dimensions from r (a gzip
// stream is detected and decompressed). file names the input in errors.
//
// Layout (all integers big-endian): the magic number 0x000008NN (two zero bytes, data
// type 0x08 = unsigned byte, NN = ndims), then ndims uint32 dimension sizes, then their
// product of bytes, and nothing after.
//
// Errors are [*FormatError]s naming file and the byte offset in the decompressed
// stream: a magic mismatch, a zero dimension (also matching [ErrEmpty]), a body shorter
// than announced or a truncated gzip stream (also matching io.ErrUnexpectedEOF),
// trailing bytes, or a bad gzip checksum.
//
// The body is read in bulk into one growing buffer: no per-byte work and no
// allocation larger than about twice the data actually present.
//
// When r can tell its size (a Size() int64 method as on *bytes.Reader, or an *os.File),
// the buffer is sized once from the header, up to the most that many bytes can inflate
// to; otherwise it starts at 1 MiB and doubles as data arrives, so that a lying header
// cannot make it allocate much more than the data present.
func ReadIDX(r io.Reader, file string, ndims int) (IDX, error) {
	sizeHint := int64(1 << 20)
	if n, ok := inputSize(r); ok {
		// DEFLATE inflates at most about 1032:1.
		sizeHint = 1032*n + 1024
	}
	in, err := decompress(r)
	if err != nil {
		return IDX{}, offsetError(file, 0, "%w", err)
	}
	head := make([]byte, 4+4*ndims)
	if n, err := io.ReadFull(in, head); err != nil {
		if n < 4 {
			return IDX{}, offsetError(file, int64(n), "IDX header: %w", truncatedOr(eofAsUnexpected(err)))
		}
		// Check the magic before complaining about the missing dimensions.
		if err := checkMagic(head[:4], file, ndims); err != nil {
			return IDX{}, err
		}
		return IDX{}, offsetError(file, int64(n), "IDX header: %w", truncatedOr(eofAsUnexpected(err)))
	}
	if err := checkMagic(head[:4], file, ndims); err != nil {
		return IDX{}, err
	}
	dims := make([]int, ndims)
	for i := range dims {
		dims[i] = int(binary.BigEndian.Uint32(head[4+4*i:]))
		if dims[i] == 0 {
			return IDX{}, &FormatError{File: file, Offset: int64(4 + 4*i), Err: causeError{fmt.Sprintf("IDX dimension %d is 0", i+1), ErrEmpty}}
		}
	}
	total := int64(1)
	for _, d := range dims {
		if total > maxIDXBytes/int64(d) { // checked before multiplying: no overflow
			return IDX{}, offsetError(file, 4, "IDX dimensions %v announce more than %d bytes", dims, int64(maxIDXBytes))
		}
		total *= int64(d)
	}
	body := int64(len(head))
	want := int(total)
	data := make([]byte, 0, int(min(total, max(sizeHint, 1<<12))))
	for len(data) < want {
		if len(data) == cap(data) {
			data = slices.Grow(data, min(want-len(data), cap(data)))
		}
		n, err := io.ReadFull(in, data[len(data):min(cap(data), want)])
		data = data[:len(data)+n]
		if err != nil {
			return IDX{}, offsetError(file, body+int64(len(data)),
				"IDX body ends after %d of %d bytes: %w", len(data), want, truncatedOr(eofAsUnexpected(err)))
		}
	}
	// Read to the end: this also verifies a gzip stream's checksum.
	var one [1]byte
	n, err := io.ReadFull(in, one[:])
	switch {
	case n > 0:
		return IDX{}, offsetError(file, body+total, "trailing data after the IDX body of %d bytes", want)
	case !errors.Is(err, io.EOF):
		return IDX{}, offsetError(file, body+total, "%w", truncatedOr(err))
	}
	return IDX{Dims: dims, Data: data}, nil
}

// checkMagic compares the 4-byte magic number with the one for ndims unsigned-byte
// dimensions.
func checkMagic(b []byte, file string, ndims int) error {
	got := binary.BigEndian.Uint32(b)
	want := uint32(idxUnsignedByte<<8 | ndims)
	if got != want {
		return offsetError(file, 0, "IDX magic 0x%08x, want 0x%08x (unsigned bytes, %d dimension(s))", got, want, ndims)
	}
	return nil
}

// eofAsUnexpected turns a bare io.EOF (stream ended before anything was read) into
// io.ErrUnexpectedEOF: inside a structure both mean the data is cut short.
func eofAsUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// inputSize gives the size of r in bytes when r knows it.
func inputSize(r io.Reader) (int64, bool) {
	switch v := r.(type) {
	case interface{ Size() int64 }:
		return v.Size(), true
	case *os.File:
		if st, err := v.Stat(); err == nil && st.Mode().IsRegular() {
			return st.Size(), true
		}
	}
	return 0, false
}
