package tuner

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors of the trial objective; check them with errors.Is.
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
	// ErrPruned marks a trial whose quantization-aware training the study's pruner
	// stopped (Task.OnQATEpoch); the error is a *PrunedError that says at which epoch
	// and why.
	ErrPruned = errors.New("tuner: training pruned")
)

// Sentinel errors of the study driver (spec, plan and run); check them with errors.Is.
var (
	// ErrStudySpec marks a study spec that cannot be used: malformed YAML, an unknown key,
	// a value of the wrong type or out of range, an empty or inverted range. It comes
	// wrapped in a *SpecError that names the file, line and field.
	ErrStudySpec = errors.New("tuner: bad study spec")
	// ErrStudyConflict marks a study name already taken by a study with another spec.
	ErrStudyConflict = errors.New("tuner: study exists with another spec")
	// ErrStudyData marks a data set or model file that cannot be loaded or does not fit
	// the study (wrong number of features or classes), or a data set that changed since
	// the study began.
	ErrStudyData = errors.New("tuner: study data cannot be used")
	// ErrSampler marks a sampler that failed to propose a trial; the study stops.
	ErrSampler = errors.New("tuner: sampler failed")
	// ErrNoPick marks a rule that no complete trial satisfies, or a study without the
	// accuracy and latency_ms objectives a rule needs.
	ErrNoPick = errors.New("tuner: no trial meets the rule")
)

// SpecError reports a bad study spec: the file (empty when the spec did not come from a
// file), the line (0 when unknown), the field as a dotted path ("space.n_w_bits"), and
// why. It matches ErrStudySpec.
type SpecError struct {
	File  string
	Line  int
	Field string
	Why   string
}

// Error returns `tuner: spec FILE: line N: FIELD: WHY`, leaving out the parts that are
// unknown.
func (e *SpecError) Error() string {
	s := "tuner: spec"
	if e.File != "" {
		s += " " + e.File
	}
	if e.Line > 0 {
		s += fmt.Sprintf(": line %d", e.Line)
	}
	if e.Field != "" {
		s += ": " + e.Field
	}
	// The reason may quote the spec's own text; its line breaks are escaped so that the
	// error stays one line.
	return s + ": " + oneLine.Replace(e.Why)
}

var oneLine = strings.NewReplacer("\r\n", `\n`, "\n", `\n`, "\r", `\r`)

// Unwrap returns ErrStudySpec.
func (e *SpecError) Unwrap() error { return ErrStudySpec }
