package onnx

import (
	"errors"
	"fmt"
)

// ErrFormat marks a file that is not a well-formed ONNX model; ErrUnsupported a
// well-formed model that uses what fhetune cannot represent.
var (
	ErrFormat      = errors.New("not a valid ONNX model")
	ErrUnsupported = errors.New("unsupported ONNX model")
)

// Error is a problem with one model file, at one node when Node is set.
type Error struct {
	// File is the model's path (or the name given to [Decode]).
	File string
	// Node and OpType name the graph node at fault ("" for the whole model).
	Node, OpType string
	// Offset is the byte offset where a malformed file stops parsing (-1 when unknown).
	Offset int64
	// Why says what is wrong and, for unsupported input, what is supported.
	Why string
	// Err is ErrFormat or ErrUnsupported.
	Err error
}

func (e *Error) Error() string {
	where := e.File
	if e.Offset >= 0 {
		where += fmt.Sprintf(": byte %d", e.Offset)
	}
	if e.Node != "" || e.OpType != "" {
		where += fmt.Sprintf(": node %q (%s)", e.Node, e.OpType)
	}
	return "onnx: " + where + ": " + e.Why
}

// Unwrap returns ErrFormat or ErrUnsupported.
func (e *Error) Unwrap() error { return e.Err }
