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
// the speed of the cores drifts by tens of percent within an hour, and so does how much
// the cores slow each other down when all of them run bootstraps (README, Encrypted
// check), so a latency priced by an older profile is off by those factors. A probe of a
// few seconds measures both at the moment, on the anchors: it flags a stale profile.
// It does not correct one, since sets with larger keys drift by other factors than the
// anchors (`fhetune calibrate` prices every set anew).
//
// A Probe holds the anchors' keys (tens of MB each); it is not safe for concurrent use.
type Probe struct {
	runners []*Runner
	ref     []Measurement // the profile's measurement of each anchor
	seed    uint64
	rounds  int
}

// Anchor is one set of a [Probe]: its time in the profile and its time now, on one core
// and, where the profile ran the set on all cores at once, with every core busy.
type Anchor struct {
	Set       string  `json:"set"`
	ProfileMS float64 `json:"profile_ms"`
	MS        float64 `json:"ms"`
	// AllCoresProfileMS and AllCoresMS are the wall time per bootstrap and core of a
	// throughput run ([Measurement.ParallelWallMS]) in the profile and now.
	AllCoresProfileMS float64 `json:"all_cores_profile_ms,omitempty"`
	AllCoresMS        float64 `json:"all_cores_ms,omitempty"`
}

// Reading is what one [Probe.Speed] measured.
type Reading struct {
	// Factor is the median over the anchors of their one-core time now over their time
	// in the profile: above 1 when the machine runs slower than when it was calibrated.
	Factor float64
	// AllCoresFactor is the same for the time with Workers cores running a bootstrap
	// each, what an inference spread over the cores pays; 0 when the profile has no
	// throughput run of the anchors.
	AllCoresFactor float64
	Workers        int
	Anchors        []Anchor
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
		t Target
		m Measurement
	}
	var as []anchor
	for _, m := range ms {
		set, err := m.Set.Compile()
		if err != nil {
			return nil, fmt.Errorf("%w: measured set %+v: %w", ErrBadProfile, m.Set, err)
		}
		as = append(as, anchor{Target{Params: set, Precision: m.Precision, Log2Norm2: m.Log2Norm2}, m})
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
		p.ref = append(p.ref, a.m)
	}
	return p, nil
}

// Speed times every anchor repeats times (after one warm-up call each) in interleaved
// rounds on the calling goroutine, then, for each anchor the profile ran on all cores at
// once, a throughput run as calibration's (as many workers as the profile's, repeats
// bootstraps each), and compares both with the profile. ctx is checked between
// bootstraps.
func (p *Probe) Speed(ctx context.Context, repeats int) (Reading, error) {
	for _, r := range p.runners {
		c := &r.chain
		c.ks, c.pbs, c.total, c.wall = c.ks[:0], c.pbs[:0], c.total[:0], c.wall[:0]
	}
	p.rounds++
	repeats = max(1, repeats)
	o := MeasureOptions{Warmup: 1, Repeats: repeats}
	if err := rounds(ctx, p.runners, o, 0, p.seed+uint64(p.rounds), func(int) {}); err != nil {
		return Reading{}, err
	}
	var rd Reading
	var refs, now, parRefs, parNow []float64
	for i, r := range p.runners {
		m := p.ref[i]
		a := Anchor{Set: r.target.Params.String(), ProfileMS: m.MS, MS: Median(r.chain.total)}
		refs, now = append(refs, a.ProfileMS), append(now, a.MS)
		if par := m.ParallelWallMS(); m.Workers > 1 && par > 0 {
			perS, _, _, _, _, err := r.throughput(ctx, m.Workers, repeats, r.checkedPool())
			if err != nil {
				return Reading{}, err
			}
			a.AllCoresProfileMS = par
			a.AllCoresMS = Measurement{Workers: m.Workers, ThroughputPerS: perS}.ParallelWallMS()
			parRefs, parNow = append(parRefs, par), append(parNow, a.AllCoresMS)
			rd.Workers = m.Workers
		}
		rd.Anchors = append(rd.Anchors, a)
	}
	// driftScale(ref, got) is the factor bringing got to ref's speed; its inverse is
	// how much slower now runs.
	rd.Factor = 1 / driftScale(refs, now)
	if len(parRefs) > 0 {
		rd.AllCoresFactor = 1 / driftScale(parRefs, parNow)
	}
	return rd, nil
}
