package fhe

import "errors"

// Sentinel errors; check them with errors.Is.
var (
	// ErrInvalidParams marks a parameter literal that breaks a structural bound.
	ErrInvalidParams = errors.New("fhe: invalid parameters")
	// ErrUnsupportedSecurity marks a security level with no curve.
	ErrUnsupportedSecurity = errors.New("fhe: unsupported security level")
	// ErrInsecure marks a dimension below the security curve's range.
	ErrInsecure = errors.New("fhe: dimension too small to be secure")
)
