package nsga2

import "errors"

// ErrOption marks an invalid option value given to [New].
var ErrOption = errors.New("nsga2: invalid option")

// Sample's other errors come from the search package (invalid space, directions or
// history), wrapped as "nsga2: sample trial N: …"; check them with errors.Is.
