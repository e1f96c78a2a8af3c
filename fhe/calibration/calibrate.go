package calibration

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"slices"
	"time"
)

// freeAbove is the key size in bytes above which Calibrate returns memory to the
// system after a set.
const freeAbove = 256 << 20

// remeasureBeyond is the leave-one-out relative error beyond which (either way) a set
// is measured again, twice, and keeps its median attempt.
const remeasureBeyond = 0.15

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
// fails before anything is measured. Sets whose time is more than 15% off the
// leave-one-out prediction, either way, are measured twice more with fresh keys and
// keep the attempt of median time; the measurement records its attempts. ctx is
// checked between bootstraps; on any error no profile is returned.
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
	// A set far from the model fitted to the others, either way, was probably measured
	// while the machine ran faster or slower than usual: measure it twice more, with
	// fresh keys, and keep the attempt of median time. Keeping the fastest attempt
	// instead biases the profile fast: its times become minima, while the inferences it
	// predicts run at the machine's usual speed (verify measured them 6-24% slower).
	remeasured := false
	for i, e := range pr.LOO.Errors {
		if math.Abs(e) <= remeasureBeyond {
			continue
		}
		attempts := []Measurement{ms[i]}
		for range 2 {
			m, err := measure(i, true)
			if err != nil {
				return Profile{}, err
			}
			attempts = append(attempts, m)
		}
		ms[i] = medianAttempt(attempts)
		report(i, PhaseDone, &ms[i])
		remeasured = true
	}
	if remeasured {
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

// medianAttempt keeps the attempt of median time (the upper of the two middle ones for
// an even count), records the others' medians, and counts the bootstraps and wrong
// results of all.
func medianAttempt(attempts []Measurement) Measurement {
	order := make([]int, len(attempts))
	for k := range order {
		order[k] = k
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(attempts[a].MS, attempts[b].MS) })
	pick := order[len(order)/2]
	keep := attempts[pick]
	keep.Attempts, keep.Bootstraps, keep.Wrong, keep.DiscardedMS = 0, 0, 0, nil
	for k, m := range attempts {
		keep.Attempts += max(1, m.Attempts)
		keep.Bootstraps += m.Bootstraps
		keep.Wrong += m.Wrong
		keep.DiscardedMS = append(keep.DiscardedMS, m.DiscardedMS...)
		if k != pick {
			keep.DiscardedMS = append(keep.DiscardedMS, m.MS)
		}
	}
	return keep
}
