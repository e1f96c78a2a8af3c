package searchtest

import "errors"

// ErrBadSample marks a sampler that returned values outside the space.
var ErrBadSample = errors.New("searchtest: sample outside the space")
