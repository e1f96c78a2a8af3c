package calibration

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"time"
)

// freeAbove is the key size in bytes above which Calibrate returns memory to the
// system after a set.
const freeAbove = 256 << 20

// Options configures [Calibrate]. Zero values mean the defaults.
type Options struct {
	// Measure sets what each set measures.
	Measure MeasureOptions
	// Terms names the model terms; nil means [DefaultTerms].
	Terms []string
	// Seed draws the lookup tables and inputs (default 1).
	Seed uint64
	// Command is recorded in the profile as how it was made.
	Command string
	// Progress, if set, is called on the calling goroutine as each set starts its key
	// generation, starts measuring, and is done.
	Progress func(Event)
}

// Phase is a step of the calibration of one set.
type Phase string

// The phases reported to [Options.Progress].
const (
	PhaseKeygen  Phase = "keygen"
	PhaseMeasure Phase = "measure"
	PhaseDone    Phase = "done"
)

// Event reports progress: set Index (0-based) of Total is in Phase; Measurement is set
// when the phase is [PhaseDone].
type Event struct {
	Index, Total int
	Target       Target
	Phase        Phase
	Measurement  *Measurement
	// Elapsed is the time since Calibrate started.
	Elapsed time.Duration
}

// Calibrate measures every target, fits the models and returns the profile with its
// provenance filled in. Every target is checked for tfhe-go first, so a refused set
// fails before anything is measured. ctx is checked between bootstraps; on any error
// no profile is returned. Key generation uses all cores, the latency runs one.
func Calibrate(ctx context.Context, targets []Target, opts Options) (Profile, error) {
	terms := opts.Terms
	if terms == nil {
		terms = DefaultTerms
	}
	need, err := minSets(terms)
	if err != nil {
		return Profile{}, err
	}
	if len(targets) < need {
		return Profile{}, fmt.Errorf("%w: %d sets, the model's %d terms need at least %d to fit with one left out",
			ErrNoSets, len(targets), len(terms), need)
	}
	for _, t := range targets {
		lit, err := TFHEParameters(t)
		if err != nil {
			return Profile{}, err
		}
		if _, err := compile(t, lit); err != nil {
			return Profile{}, err
		}
	}
	seed := opts.Seed
	if seed == 0 {
		seed = 1
	}
	start := time.Now()
	load0 := loadAverage()
	report := func(i int, ph Phase, m *Measurement) {
		if opts.Progress != nil {
			opts.Progress(Event{Index: i, Total: len(targets), Target: targets[i], Phase: ph, Measurement: m, Elapsed: time.Since(start)})
		}
	}
	ms := make([]Measurement, 0, len(targets))
	for i, t := range targets {
		if err := ctx.Err(); err != nil {
			return Profile{}, err
		}
		report(i, PhaseKeygen, nil)
		r, err := NewRunner(ctx, t, seed+uint64(i))
		if err != nil {
			return Profile{}, fmt.Errorf("set %d (%v): %w", i+1, t.Params, err)
		}
		report(i, PhaseMeasure, nil)
		m, err := r.Measure(ctx, opts.Measure)
		if err != nil {
			return Profile{}, fmt.Errorf("set %d (%v): %w", i+1, t.Params, err)
		}
		ms = append(ms, m)
		report(i, PhaseDone, &m)
		if KeyBytes(t.Params) > freeAbove {
			// Keys of large sets take gigabytes; give them back before the next set.
			debug.FreeOSMemory()
		}
	}
	pr, err := Build(ms, terms)
	if err != nil {
		return Profile{}, err
	}
	pr.Machine = DetectMachine()
	pr.Go = runtime.Version()
	pr.TFHEGo = TFHEGoVersion()
	pr.Created = start.UTC().Truncate(time.Second)
	pr.Command = opts.Command
	pr.LoadAverage = []float64{load0, loadAverage()}
	return pr, nil
}
