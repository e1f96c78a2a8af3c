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

// remeasureBelow is the leave-one-out relative error below whose negative a set is
// measured again: its time exceeded the prediction by more than this share of itself.
// extraPasses is how many times at most the sets are checked and measured again.
const (
	remeasureBelow = 0.15
	extraPasses    = 2
)

// betweenSets is how many keyswitches between the keys of two sets Calibrate measures.
const betweenSets = 4

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
	// PhaseRemeasure measures a set again because it took much longer than the model
	// fitted to the other sets predicts.
	PhaseRemeasure Phase = "remeasure"
	PhaseDone      Phase = "done"
	// PhaseBetween measures keyswitches between the keys of two sets, after all sets.
	PhaseBetween Phase = "keyswitch-between"
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
// fails before anything is measured. Sets whose time exceeds the leave-one-out
// prediction by more than 15% are measured again with fresh keys (at most twice, each
// time after a refit) and keep the lowest median (interference from other processes
// only adds time); the measurement records its attempts. ctx is checked between bootstraps; on any error no profile is returned.
// Key generation uses all cores, the latency runs one.
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
	measure := func(i int, again bool) (Measurement, error) {
		t := targets[i]
		if err := ctx.Err(); err != nil {
			return Measurement{}, err
		}
		report(i, PhaseKeygen, nil)
		r, err := NewRunner(ctx, t, seed+uint64(i))
		if err != nil {
			return Measurement{}, fmt.Errorf("set %d (%v): %w", i+1, t.Params, err)
		}
		if again {
			report(i, PhaseRemeasure, nil)
		} else {
			report(i, PhaseMeasure, nil)
		}
		m, err := r.Measure(ctx, opts.Measure)
		if err != nil {
			return Measurement{}, fmt.Errorf("set %d (%v): %w", i+1, t.Params, err)
		}
		if KeyBytes(t.Params) > freeAbove {
			// Keys of large sets take gigabytes; give them back before the next set.
			debug.FreeOSMemory()
		}
		return m, nil
	}
	ms := make([]Measurement, 0, len(targets))
	for i := range targets {
		m, err := measure(i, false)
		if err != nil {
			return Profile{}, err
		}
		m.Attempts = 1
		ms = append(ms, m)
		report(i, PhaseDone, &m)
	}
	pr, err := Build(ms, terms)
	if err != nil {
		return Profile{}, err
	}
	// Other processes only ever add time. A set that took much longer than the model
	// fitted to the others predicts was probably disturbed: measure it once more, with
	// fresh keys, and keep the lower median.
	for pass := 0; pass < extraPasses; pass++ {
		again := false
		for i, e := range pr.LOO.Errors {
			if e >= -remeasureBelow {
				continue
			}
			m, err := measure(i, true)
			if err != nil {
				return Profile{}, err
			}
			ms[i] = mergeAttempts(ms[i], m)
			report(i, PhaseDone, &ms[i])
			again = true
		}
		if !again {
			break
		}
		if pr, err = Build(ms, terms); err != nil {
			return Profile{}, err
		}
	}
	// Keyswitches between the keys of neighbouring sets, with the destination's
	// decomposition: what a circuit pays between partitions.
	var between []KeySwitchMeasurement
	for i, pair := range betweenPairs(targets, betweenSets) {
		if opts.Progress != nil {
			opts.Progress(Event{Index: len(targets) - 1, Total: len(targets), Target: targets[len(targets)-1], Phase: PhaseBetween, Elapsed: time.Since(start)})
		}
		to := pair[1].Params
		m, err := measureBetween(ctx, pair[0], pair[1], to.KSLevel(), to.KSLogBase(), opts.Measure.withDefaults().Repeats, seed+uint64(i))
		if err != nil {
			return Profile{}, fmt.Errorf("keyswitch %v → %v: %w", pair[0].Params, to, err)
		}
		between = append(between, m)
	}
	if len(between) > 0 {
		b, err := FitBetween(between)
		if err != nil {
			return Profile{}, err
		}
		pr.Between = &b
	}
	pr.Machine = DetectMachine()
	pr.Go = runtime.Version()
	pr.TFHEGo = TFHEGoVersion()
	pr.Created = start.UTC().Truncate(time.Second)
	pr.Command = opts.Command
	pr.LoadAverage = []float64{load0, loadAverage()}
	return pr, nil
}

// mergeAttempts keeps the attempt with the lower median time, records the other's
// median, and counts the bootstraps and wrong results of both.
func mergeAttempts(old, again Measurement) Measurement {
	keep, drop := old, again
	if again.MS < old.MS {
		keep, drop = again, old
	}
	keep.Attempts = max(1, old.Attempts) + 1
	keep.DiscardedMS = append(append([]float64(nil), old.DiscardedMS...), drop.MS)
	keep.Bootstraps = old.Bootstraps + again.Bootstraps
	keep.Wrong = old.Wrong + again.Wrong
	return keep
}
