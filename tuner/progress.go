package tuner

import (
	"time"

	"github.com/fhetune/fhetune/studies"
)

// Progress is the state of a running study, sent to the WithProgress callback when Run
// starts and after every trial this process finishes.
type Progress struct {
	// Study names the study.
	Study string
	// Done counts the study's finished trials (complete, failed or pruned, all
	// processes), Total the number it ends with.
	Done, Total int
	// Complete, Failed, Pruned and Running count the study's trials in those states.
	Complete, Failed, Pruned, Running int
	// BestAccuracy is the highest accuracy of a complete trial (NaN when the study has no
	// accuracy objective or no complete trial).
	BestAccuracy float64
	// FrontSize is the size of the Pareto front of the complete trials.
	FrontSize int
	// Hypervolume is the front's hypervolume (see Hypervolume).
	Hypervolume float64
	// Elapsed is the time since Run started; ETA estimates the time left from this
	// process's pace (0 before its first trial ends).
	Elapsed, ETA time.Duration
	// Last is the trial that just ended (nil in the first report).
	Last *TrialReport
}

// TrialReport describes a trial that just ended.
type TrialReport struct {
	Number int
	// State is COMPLETE, FAIL or PRUNED.
	State studies.State
	// Values holds the objective values of a complete trial.
	Values []float64
	// Knobs holds the trial's knob values (rounding off: absent).
	Knobs map[string]float64
	// Err is a failed trial's error, or why a pruned trial's training was stopped.
	Err string
	// EvalTime is the time the objective took.
	EvalTime time.Duration
}
