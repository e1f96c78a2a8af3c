package main

import (
	"errors"
	"fmt"
)

// usageError marks bad usage or bad input: the process exits with code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// badInput returns an error that exits with code 2. The message should name the flag,
// file, field or value and say why it is refused.
func badInput(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// exitCode maps an error to the process exit code. Errors raised before a command ran
// (flag parsing, argument counts, unknown commands) are usage errors.
func exitCode(err error, started bool) int {
	var u usageError
	if errors.As(err, &u) || !started {
		return 2
	}
	return 1
}
