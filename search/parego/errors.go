package parego

import "errors"

// ErrOption marks an invalid option value given to [New].
var ErrOption = errors.New("parego: invalid option")

// Sample's other errors come from the search package (invalid space, directions or
// history), wrapped as "parego: sample trial N: …"; check them with errors.Is.
