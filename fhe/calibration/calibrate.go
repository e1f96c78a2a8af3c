package calibration

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
)

// freeAbove is the key size in bytes above which Calibrate returns memory to the
// system after a group of sets.
const freeAbove = 256 << 20

// betweenSets is how many keyswitches between the keys of two sets Calibrate measures.
const betweenSets = 4

// maxRounds bounds the rounds of one group, whatever MinRoundTime asks.
const maxRounds = 200

// DefaultMinRoundTime is how long [Calibrate]'s rounds last at least by default.
const DefaultMinRoundTime = 15 * time.Second

// Options configures [Calibrate]. Zero values mean the defaults.
type Options struct {
	// Measure sets what each set measures; Measure.Repeats is the least number of
	// rounds.
	Measure MeasureOptions
	// MinRoundTime is how long the rounds of a group go on at least (default
	// [DefaultMinRoundTime]; negative: Measure.Repeats rounds only). Spreading the
	// rounds over time lets each set's median see the machine's usual speed rather
	// than the speed of one moment.
	MinRoundTime time.Duration
	// MaxKeyBytes bounds the keys held at once ([KeyBytes] summed over a group); the
	// default is half the memory available when Calibrate starts.
	MaxKeyBytes float64
	// Terms names the model terms; nil means [DefaultTerms].
	Terms []string
	// Seed draws the lookup tables, inputs and round orders (default 1).
	Seed uint64
	// Command is recorded in the profile as how it was made.
	Command string
	// Progress, if set, is called on the calling goroutine as each set starts its key
	// generation, after each round and as each set is done.
	Progress func(Event)
}

// Phase is a step of the calibration.
type Phase string

// The phases reported to [Options.Progress].
const (
	PhaseKeygen Phase = "keygen"
	// PhaseRound reports a finished round of a group: every set of the group timed once.
	PhaseRound Phase = "round"
	PhaseDone  Phase = "done"
	// PhaseBetween measures keyswitches between the keys of two sets, after all sets.
	PhaseBetween Phase = "keyswitch-between"
)

// Event reports progress. For [PhaseKeygen] and [PhaseDone], set Index (0-based) of
// Total is concerned (Measurement is set when done); for [PhaseRound], Round rounds of
// group Group (0-based) of Groups are done.
type Event struct {
	Index, Total  int
	Target        Target
	Phase         Phase
	Measurement   *Measurement
	Round         int
	Group, Groups int
	// Elapsed is the time since Calibrate started.
	Elapsed time.Duration
}

// Calibrate measures every target, fits the models to the targets not held out, and
// returns the profile with its provenance and its error on the held-out targets.
//
// Every target is checked for tfhe-go first, so a refused set fails before anything is
// measured. The targets are dealt into as few groups as the key memory allows (each
// group spanning small and large sets alike). A group's keys are made, then its sets are
// timed in rounds: each round times every set once, in a new random order, and rounds go
// on until there are Measure.Repeats of them and MinRoundTime has passed. A set's time
// is the median over the rounds, so a machine that speeds up or slows down does so for
// all sets of the group rather than for the few measured at that moment. With more than
// one group, the three fitted sets with the smallest keys are also timed in every
// group, and each later group's times are scaled by the median ratio of their times in
// the first group to those in it ([Measurement.DriftScale]). ctx is checked
// between bootstraps; on any error no profile is returned. Key generation uses all
// cores, the timed calls one.
func Calibrate(ctx context.Context, targets []Target, opts Options) (Profile, error) {
	terms := opts.Terms
	if terms == nil {
		terms = DefaultTerms
	}
	need, err := minSets(terms)
	if err != nil {
		return Profile{}, err
	}
	fit := 0
	for _, t := range targets {
		if !t.HeldOut {
			fit++
		}
	}
	if fit < need {
		return Profile{}, fmt.Errorf("%w: %d sets to fit, the model's %d terms need at least %d to fit with one left out",
			ErrNoSets, fit, len(terms), need)
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
	o := opts.Measure.withDefaults()
	seed := opts.Seed
	if seed == 0 {
		seed = 1
	}
	minTime := opts.MinRoundTime
	if minTime == 0 {
		minTime = DefaultMinRoundTime
	}
	budget := opts.MaxKeyBytes
	if budget <= 0 {
		budget = AvailableMemory() / 2
	}
	groups, err := group(targets, budget)
	if err != nil {
		return Profile{}, err
	}
	start := time.Now()
	load0 := loadAverage()
	report := func(e Event) {
		if opts.Progress != nil {
			e.Total, e.Groups, e.Elapsed = len(targets), len(groups), time.Since(start)
			opts.Progress(e)
		}
	}
	// With more than one group, a few small anchor sets are timed in every group's
	// rounds too; their times say how much faster or slower the machine ran during each
	// group than during the first, and each group's times are scaled back by that.
	var anchors []int
	if len(groups) > 1 {
		anchors = anchorSets(targets, numAnchors)
	}
	var ref []float64 // the anchors' medians in the first group
	ms := make([]Measurement, len(targets))
	for g, idx := range groups {
		runners := make([]*Runner, len(idx)+len(anchors))
		bytes := 0.0
		for j, i := range slices.Concat(idx, anchors) {
			if j < len(idx) {
				report(Event{Index: i, Target: targets[i], Phase: PhaseKeygen, Group: g})
			}
			if runners[j], err = NewRunner(ctx, targets[i], seed+uint64(i)); err != nil {
				return Profile{}, fmt.Errorf("set %d (%v): %w", i+1, targets[i].Params, err)
			}
			bytes += KeyBytes(targets[i].Params)
		}
		err := rounds(ctx, runners, o, minTime, seed+uint64(g), func(r int) {
			report(Event{Phase: PhaseRound, Round: r, Group: g})
		})
		if err != nil {
			return Profile{}, err
		}
		scale := 1.0
		if len(anchors) > 0 {
			medians := make([]float64, len(anchors))
			for a := range anchors {
				medians[a] = Median(runners[len(idx)+a].chain.total)
			}
			if g == 0 {
				ref = medians
			}
			scale = driftScale(ref, medians)
		}
		for j, i := range idx {
			if ms[i], err = runners[j].finish(ctx, o); err != nil {
				return Profile{}, fmt.Errorf("set %d (%v): %w", i+1, targets[i].Params, err)
			}
			if len(anchors) > 0 {
				ms[i].rescale(scale)
			}
			report(Event{Index: i, Target: targets[i], Phase: PhaseDone, Measurement: &ms[i], Group: g})
		}
		if bytes > freeAbove {
			// Keys of large sets take gigabytes; give them back before the next group.
			runners = nil
			debug.FreeOSMemory()
		}
	}
	var fitMS, heldMS []Measurement
	var fitTargets []Target
	for i, m := range ms {
		if m.HeldOut {
			heldMS = append(heldMS, m)
		} else {
			fitMS = append(fitMS, m)
			fitTargets = append(fitTargets, targets[i])
		}
	}
	pr, err := Build(fitMS, terms)
	if err != nil {
		return Profile{}, err
	}
	if len(heldMS) > 0 {
		if err := pr.holdOut(heldMS); err != nil {
			return Profile{}, err
		}
	}
	// Keyswitches between the keys of neighbouring sets, with the destination's
	// decomposition: what a circuit pays between partitions.
	var between []KeySwitchMeasurement
	for i, pair := range betweenPairs(fitTargets, betweenSets) {
		report(Event{Index: len(targets) - 1, Target: pair[1], Phase: PhaseBetween})
		to := pair[1].Params
		m, err := measureBetween(ctx, pair[0], pair[1], to.KSLevel(), to.KSLogBase(), o.Repeats, seed+uint64(i))
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

// rounds warms every runner up, then times every runner once per round, in a new
// order each round, until there are o.Repeats rounds and minTime has passed (or
// maxRounds). done is called after each round with the rounds so far.
func rounds(ctx context.Context, runners []*Runner, o MeasureOptions, minTime time.Duration, seed uint64, done func(int)) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for range o.Warmup {
		for _, r := range runners {
			if err := ctx.Err(); err != nil {
				return err
			}
			r.step(false)
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0x726f756e64))
	order := make([]int, len(runners))
	for j := range order {
		order[j] = j
	}
	start := time.Now()
	for n := 1; n <= maxRounds; n++ {
		rng.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
		for _, j := range order {
			if err := ctx.Err(); err != nil {
				return err
			}
			runners[j].step(true)
		}
		done(n)
		if n >= o.Repeats && time.Since(start) >= minTime {
			break
		}
	}
	return nil
}

// numAnchors is how many sets measure the drift between groups.
const numAnchors = 3

// anchorSets returns up to n fitted targets with the smallest keys, the cheapest to
// time in every group.
func anchorSets(targets []Target, n int) []int {
	var out []int
	for i, t := range targets {
		if !t.HeldOut {
			out = append(out, i)
		}
	}
	slices.SortStableFunc(out, func(a, b int) int {
		return cmp.Compare(KeyBytes(targets[a].Params), KeyBytes(targets[b].Params))
	})
	return out[:min(n, len(out))]
}

// driftScale returns the median over the anchors of ref/got: the factor that brings
// times measured alongside got to the speed of the group that measured ref.
func driftScale(ref, got []float64) float64 {
	r := make([]float64, len(ref))
	for a := range ref {
		r[a] = ref[a] / got[a]
	}
	return Median(r)
}

// group deals the targets into as few groups as keep each group's keys within budget
// bytes: largest keys first, each into the group holding the fewest bytes, so that every
// group spans the sizes. A set whose keys alone exceed the budget is an error wrapping
// [ErrRefused]. Groups list target indices in the targets' order.
func group(targets []Target, budget float64) ([][]int, error) {
	total := 0.0
	order := make([]int, len(targets))
	for i, t := range targets {
		b := KeyBytes(t.Params)
		if b > budget {
			return nil, fmt.Errorf("%w: %v: keys of %.0f MB exceed the %.0f MB calibration may hold (half the free memory)",
				ErrRefused, t.Params, b/1e6, budget/1e6)
		}
		total += b
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Compare(KeyBytes(targets[b].Params), KeyBytes(targets[a].Params))
	})
	for n := max(1, int(math.Ceil(total/budget))); ; n++ {
		groups := make([][]int, n)
		held := make([]float64, n)
		fits := true
		for _, i := range order {
			g := 0
			for k := range held {
				if held[k] < held[g] {
					g = k
				}
			}
			held[g] += KeyBytes(targets[i].Params)
			groups[g] = append(groups[g], i)
			fits = fits && held[g] <= budget
		}
		if fits {
			for _, g := range groups {
				slices.Sort(g)
			}
			return groups, nil
		}
	}
}

// AvailableMemory returns the bytes available to new allocations (MemAvailable of
// /proc/meminfo), or 8 GB where it cannot be read.
func AvailableMemory() float64 {
	const unknown = 8e9
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return unknown
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemAvailable:" {
			if kb, err := strconv.ParseFloat(fields[1], 64); err == nil {
				return kb * 1024
			}
		}
	}
	return unknown
}
