package model

import (
	"errors"
	"fmt"
)

var (
	// ErrSpec marks a model spec string that cannot be parsed or built.
	ErrSpec = errors.New("model: bad model spec")
	// ErrShape marks layers, data or parameters whose shapes do not fit together.
	ErrShape = errors.New("model: shape mismatch")
	// ErrData marks training or evaluation data that cannot be used (empty, labels out of
	// range, NaN or Inf).
	ErrData = errors.New("model: bad data")
	// ErrPrune marks a pruning request that cannot be carried out.
	ErrPrune = errors.New("model: bad pruning request")
	// ErrQAT marks a quantization-aware training setup that cannot be used.
	ErrQAT = errors.New("model: bad quantization-aware training setup")
	// ErrFormat marks a model file that is corrupt, truncated or of another kind.
	ErrFormat = errors.New("model: bad model file")
	// ErrVersion marks a model file written in a format version this build cannot read.
	ErrVersion = errors.New("model: unsupported model file version")
)

// SpecError reports a model spec string that was refused, with the offending token.
type SpecError struct {
	Spec string // the whole spec as given
	Why  string // what is wrong, naming the token
}

func (e *SpecError) Error() string { return fmt.Sprintf("model: spec %q: %s", e.Spec, e.Why) }

// Unwrap returns [ErrSpec].
func (e *SpecError) Unwrap() error { return ErrSpec }

// FormatError reports a model file that cannot be read: the file, the byte offset where
// reading failed, and why. It wraps [ErrFormat] or [ErrVersion].
type FormatError struct {
	Path   string // the file name, or "" when decoding bytes that came from elsewhere
	Offset int64  // byte offset in the file where the problem was found
	Why    string
	Err    error // ErrFormat or ErrVersion
}

func (e *FormatError) Error() string {
	name := e.Path
	if name == "" {
		name = "model data"
	}
	return fmt.Sprintf("model: %s: byte %d: %s", name, e.Offset, e.Why)
}

// Unwrap returns the category: [ErrFormat] or [ErrVersion].
func (e *FormatError) Unwrap() error { return e.Err }

func shapeErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrShape, fmt.Sprintf(format, args...))
}

func dataErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrData, fmt.Sprintf(format, args...))
}

func pruneErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrPrune, fmt.Sprintf(format, args...))
}
