package tuner

import "errors"

// Sentinel errors; check them with errors.Is.
var (
	// ErrKnobs marks a knob out of range: bits outside 1..16, pruning or sparsity outside
	// [0, 1), a p_error outside (0, 1), both p_error and global_p_error, an unknown
	// strategy, cores below 0.
	ErrKnobs = errors.New("tuner: bad knobs")
	// ErrInfeasible marks knobs that give a circuit FHE cannot run: an accumulator wider
	// than a TLU takes without rounding, or a layer no crypto parameter set serves. The
	// error names the layer and what to change.
	ErrInfeasible = errors.New("tuner: no FHE circuit for these knobs")
	// ErrTask marks a task that cannot be evaluated: no base model, empty data, or data
	// that does not fit the model.
	ErrTask = errors.New("tuner: bad task")
	// ErrSpec marks a model spec that names no known default ("mlp", "cnn") and does not
	// parse.
	ErrSpec = errors.New("tuner: bad model spec")
)
