package dataset

import (
	"errors"
	"fmt"
)

// Sentinel errors; check them with errors.Is.
var (
	// ErrUnknownDataset marks a data set name that Load does not know.
	ErrUnknownDataset = errors.New("dataset: unknown data set")
	// ErrFormat marks malformed input data; the error is a [*FormatError] that says where.
	ErrFormat = errors.New("dataset: malformed data")
	// ErrEmpty marks a data set or split with no samples.
	ErrEmpty = errors.New("dataset: no samples")
	// ErrNotInstalled marks data files that are not on this machine (Fashion-MNIST).
	ErrNotInstalled = errors.New("dataset: data files not found")
	// ErrSplit marks a split configuration that cannot be honoured.
	ErrSplit = errors.New("dataset: invalid split")
)

// FormatError reports malformed input: which file, where in it, and why.
// It matches [ErrFormat] and its cause (for example io.ErrUnexpectedEOF for a truncated
// stream, or [ErrEmpty]) with errors.Is.
type FormatError struct {
	// File names the input (a path, or the name the caller gave a reader).
	File string
	// Line is the 1-based line of a CSV input, or 0 when the error is not tied to a line.
	Line int
	// Offset is the byte offset in the decompressed IDX or .npy stream, or -1 when not
	// known. (An error inside a .npz archive names the member and the offset in it in Err.)
	Offset int64
	// Err says what is wrong.
	Err error
}

// Error gives "dataset: FILE: line N: why" or "dataset: FILE: byte offset N: why".
func (e *FormatError) Error() string {
	switch {
	case e.Line > 0:
		return fmt.Sprintf("dataset: %s: line %d: %v", e.File, e.Line, e.Err)
	case e.Offset >= 0:
		return fmt.Sprintf("dataset: %s: byte offset %d: %v", e.File, e.Offset, e.Err)
	default:
		return fmt.Sprintf("dataset: %s: %v", e.File, e.Err)
	}
}

// Unwrap gives ErrFormat and the cause, so errors.Is matches either.
func (e *FormatError) Unwrap() []error { return []error{ErrFormat, e.Err} }

// lineError builds a FormatError for a CSV line.
func lineError(file string, line int, format string, args ...any) *FormatError {
	return &FormatError{File: file, Line: line, Offset: -1, Err: fmt.Errorf(format, args...)}
}

// offsetError builds a FormatError for a byte offset of an IDX or .npy stream.
func offsetError(file string, off int64, format string, args ...any) *FormatError {
	return &FormatError{File: file, Offset: off, Err: fmt.Errorf(format, args...)}
}

// fileError builds a FormatError for a whole file.
func fileError(file string, format string, args ...any) *FormatError {
	return &FormatError{File: file, Offset: -1, Err: fmt.Errorf(format, args...)}
}
