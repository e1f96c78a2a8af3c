package calibration

import (
	"cmp"
	"context"
	"fmt"
	"slices"
)

// Probe times a few of a profile's measured sets again, the way [Calibrate] timed them
// (the same runner, chain and clock, one core, in interleaved rounds), to tell how much
// slower or faster the machine runs now than when the profile was made. The sets are
// the profile's anchors: its fitted sets with the smallest keys, which Calibrate also
// times in every group to bring the groups to one speed; a profile's times are all at
// the speed of its first group.
//
// A profile prices the machine as it ran during the calibration. On a shared machine
// the speed of the cores drifts by tens of percent within an hour (README, Encrypted
// check), so a latency priced by an older profile is off by that factor; a probe of a
// second or two measures the factor of the moment, and [Probe.Speed] times the
// profile's prediction give the prediction at the machine's present speed.
//
// A Probe holds the anchors' keys (tens of MB each); it is not safe for concurrent use.
type Probe struct {
	runners []*Runner
	ref     []float64 // the profile's MS of each anchor
	seed    uint64
	rounds  int
}

// Anchor is one set of a [Probe]: its time in the profile and its time now.
type Anchor struct {
	Set       string  `json:"set"`
	ProfileMS float64 `json:"profile_ms"`
	MS        float64 `json:"ms"`
}

// NewProbe makes the keys of up to numAnchors of pr's fitted sets, those with the
// smallest keys (as Calibrate's anchors). A profile without fitted measurements (a
// hand-written one) cannot be probed: the error wraps [ErrNoSets].
func NewProbe(ctx context.Context, pr Profile, seed uint64) (*Probe, error) {
	ms := slices.Clone(pr.Measurements)
	ms = slices.DeleteFunc(ms, func(m Measurement) bool { return m.HeldOut || !(m.MS > 0) })
	if len(ms) == 0 {
		return nil, fmt.Errorf("%w: the profile has no measured sets to time again", ErrNoSets)
	}
	p := &Probe{seed: seed}
	type anchor struct {
		t  Target
		ms float64
	}
	var as []anchor
	for _, m := range ms {
		set, err := m.Set.Compile()
		if err != nil {
			return nil, fmt.Errorf("%w: measured set %+v: %w", ErrBadProfile, m.Set, err)
		}
		as = append(as, anchor{Target{Params: set, Precision: m.Precision, Log2Norm2: m.Log2Norm2}, m.MS})
	}
	slices.SortStableFunc(as, func(a, b anchor) int {
		return cmp.Compare(KeyBytes(a.t.Params), KeyBytes(b.t.Params))
	})
	for i, a := range as[:min(numAnchors, len(as))] {
		r, err := NewRunner(ctx, a.t, seed+uint64(i))
		if err != nil {
			return nil, fmt.Errorf("probe set %v: %w", a.t.Params, err)
		}
		p.runners = append(p.runners, r)
		p.ref = append(p.ref, a.ms)
	}
	return p, nil
}

// Speed times every anchor repeats times (after one warm-up call each) in interleaved
// rounds on the calling goroutine, and returns the median over the anchors of their
// median time now over their time in the profile: above 1 when the machine runs slower
// than when it was calibrated. ctx is checked between bootstraps.
func (p *Probe) Speed(ctx context.Context, repeats int) (float64, []Anchor, error) {
	for _, r := range p.runners {
		c := &r.chain
		c.ks, c.pbs, c.total, c.wall = c.ks[:0], c.pbs[:0], c.total[:0], c.wall[:0]
	}
	p.rounds++
	o := MeasureOptions{Warmup: 1, Repeats: max(1, repeats)}
	if err := rounds(ctx, p.runners, o, 0, p.seed+uint64(p.rounds), func(int) {}); err != nil {
		return 0, nil, err
	}
	now := make([]float64, len(p.runners))
	as := make([]Anchor, len(p.runners))
	for i, r := range p.runners {
		now[i] = Median(r.chain.total)
		as[i] = Anchor{Set: r.target.Params.String(), ProfileMS: p.ref[i], MS: now[i]}
	}
	// driftScale(ref, got) is the factor bringing got to ref's speed; its inverse is
	// how much slower now runs.
	return 1 / driftScale(p.ref, now), as, nil
}
