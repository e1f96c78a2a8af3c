package fhe

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// A circuit whose TLUs do not all share one parameter set is cut into partitions, one set
// each; a value that crosses from one partition to another is keyswitched from the big
// key of its source to the small key of its destination. The sets then depend on each
// other: the noise at a TLU input of partition 1 holds the bootstrap noise of partition
// 0 and the keyswitch 0 → 1, so partitions must be chosen together. This file describes
// such a circuit ([Graph]) and its answer ([GraphSolution]); graph_optimize.go holds the
// search ([Optimizer.Graph]). Both follow Concrete's multi-parameter optimizer
// (compilers/concrete-optimizer/concrete-optimizer/src/optimization/dag/multi_parameters/:
// analyze.rs collect_all_variance_constraints for the constraints, optimize/mod.rs for
// the search, feasible.rs for local and global feasibility), without its fast
// (GLWE-to-GLWE) keyswitches, which Concrete leaves off by default (REAL_FAST_KS).

// MaxGraphPartitions bounds [Graph.Partitions].
const MaxGraphPartitions = 64

// MinDecodingPrecision is the smallest [Decoding.Precision]: 0 is a bit extraction that
// reads the padding bit, with noise limit 2^(64−0−2) = 2^62.
const MinDecodingPrecision = 0

// Switch names a keyswitch from partition From's big key (dimension k·N of From) to
// partition To's small LWE key (dimension n of To). From == To is the usual keyswitch of
// the atomic pattern; From != To is what Concrete calls a keyswitch between partitions
// (symbolic.rs keyswitch(src, dst)).
type Switch struct{ From, To int }

// String formats the switch as "From→To".
func (s Switch) String() string { return fmt.Sprintf("%d→%d", s.From, s.To) }

// Decoding is one noise constraint of a circuit (Concrete's VarianceConstraint,
// variance_constraint.rs): the input of a bootstrap (a TLU, or a bit extraction of an
// exact rounding), or an output that the client decrypts. Its variance, in modular units
// (q² = 2^128), is
//
//	V = Σ_p BR[p]·V_BR(p) + [Bootstrap]·(V_KS(Src→Dst) + V_MS(Dst)) + Σ_p Fresh[p]·V_fresh(p)
//
// with V_BR(p) = n_p·V_cmux(p) the variance of partition p's bootstrap outputs
// ([Params.BlindRotationVariance]), V_fresh(p) = σ_min(k_p·N_p)² that of a fresh
// encryption under p's big key (Concrete: glwe_params.minimal_variance),
// V_KS(Src→Dst) = k_Src·N_Src·V_ks1(n_Dst) ([KeySwitchBetween]) and V_MS(Dst) the modulus
// switch of Dst ([Params.ModulusSwitchVariance]). Concrete's analyze.rs adds exactly
// 1·keyswitch_noise(src, dst) + 1·modulus_switching_noise(dst) to the input of a lookup.
// It must stay within (2^(64−Precision−2)/κ)².
type Decoding struct {
	// Name says where the decoding is ("fc1", "fc1 round bit 2", "fc3 output"); errors
	// and reports use it.
	Name string
	// Precision is the message bit-width at decoding, 0..16. 0 is a bit extraction
	// reading the padding bit: the noise limit is 2^62.
	Precision int
	// Count is the number of decodings of this kind per inference, at least 1. It
	// weighs the global error probability and the expected error count.
	Count int
	// BR holds the coefficients of each partition's bootstrap-output variance: squared
	// weights (norm2², 2^(2s) for a shift by s bits, ...). Length Partitions.
	BR []float64
	// Fresh holds the coefficients of each partition's fresh-encryption variance (inputs
	// encrypted by the client); nil means none. Length Partitions otherwise.
	Fresh []float64
	// Bootstrap says the decoding is a bootstrap input: the keyswitch Src→Dst and the
	// modulus switch of Dst add their variance, and Dst bootstraps it. Otherwise it is an
	// output decrypted under Src's big key as it is (no keyswitch, no modulus switch).
	Bootstrap bool
	// Src and Dst are partitions: Src holds the value, Dst bootstraps it.
	Src, Dst int
}

// Graph is a circuit as the joint optimizer sees it: its decodings, and how many
// bootstraps, keyswitches and levelled operations each partition runs per inference.
// Make one per circuit and partitioning; [Optimizer.Graph] answers it.
type Graph struct {
	// Partitions is the number of parameter sets, 1..MaxGraphPartitions.
	Partitions int
	// Decodings are the noise constraints; at least one.
	Decodings []Decoding
	// PBS holds the bootstraps per inference of each partition (TLUs and bit
	// extractions); nil means none. Length Partitions otherwise.
	PBS []int
	// KS holds the keyswitches per inference of each switch. Every bootstrap decoding's
	// switch needs a count of at least 1.
	KS map[Switch]int
	// Levelled holds the levelled multiply-adds per inference on ciphertexts of each
	// partition's big key, each costing k·N; nil means none. Length Partitions otherwise.
	Levelled []float64
	// PError is the error probability target of every decoding. Set exactly one of
	// PError and GlobalPError.
	PError float64
	// GlobalPError is the target of the whole circuit: 1 − Π_d (1 − p_d)^Count_d ≤
	// GlobalPError. The search may spend it unevenly over the decodings (Concrete's
	// global feasibility, feasible.rs global_feasible).
	GlobalPError float64
	// Security is the security level in bits; zero means [DefaultSecurity].
	Security int
	// Cost is what the search minimizes; empty means the optimizer's default
	// ([WithCost]). With [CostMS] the objective is the milliseconds of one inference on
	// one core: Σ_p PBS[p]·bootstrap(p) + Σ_s KS[s]·keyswitch(s) + Σ_p Levelled[p]·
	// multiply-add(p) at the Timer's prices (keyswitch s→s is the atomic pattern's,
	// PBSMillis − BootstrapMillis; s→t, s ≠ t, KeySwitchMillis), and every partition
	// keeps n ≤ k·N.
	Cost CostKind
}

// KeySwitchDecomposition is the decomposition of one keyswitch.
type KeySwitchDecomposition struct {
	Level   int `json:"level"`
	LogBase int `json:"log2_base"`
}

// DecodingSolution is one decoding of a [GraphSolution].
type DecodingSolution struct {
	// Name is the decoding's name.
	Name string
	// Variance is the variance at decoding with the chosen sets (modular units).
	Variance float64
	// Bound is the variance the decoding's target allows, (2^(64−p−2)/κ)²: with PError
	// the target itself, with GlobalPError the even split [PErrorPerTLU](GlobalPError,
	// total count), which a decoding may exceed when others leave room.
	Bound float64
	// PError is the decoding's actual error probability, erfc(2^(64−p−2)/(σ·√2)).
	PError float64
}

// GraphSolution holds the sets chosen for a [Graph].
type GraphSolution struct {
	// Partitions holds one set per partition. Its keyswitch fields are the
	// decomposition of Switch{p, p} when the graph uses that switch, and otherwise the
	// cheapest secure one.
	Partitions []Params
	// Switches holds the decomposition of every switch of the graph (Switch{p, p}
	// included).
	Switches map[Switch]KeySwitchDecomposition
	// Decodings holds one entry per graph decoding, in order.
	Decodings []DecodingSolution
	// Complexity is the cost of one inference:
	//
	//	Σ_p PBS[p]·PBSComplexity(p) + Σ_s KS[s]·(kN·l + kN·l·(n+1) + (kN·l − 1)·(n+1) + 1) + Σ_p Levelled[p]·k_p·N_p
	//
	// with kN of the switch's source and n of its destination, whichever cost chose the
	// sets.
	Complexity float64
	// MS is the milliseconds of one inference on one core at the optimizer's Timer's
	// prices (see [Graph].Cost), whichever cost chose the sets; 0 without a Timer.
	MS float64
	// Cost is what the sets minimize.
	Cost CostKind
	// GlobalPError is the probability that some decoding of one inference fails,
	// 1 − Π_d (1 − p_d)^Count_d.
	GlobalPError float64
	// ExpectedErrors is the expected number of failing decodings per inference,
	// Σ_d Count_d·p_d.
	ExpectedErrors float64
}

// clone returns a deep copy, so that callers may not change a memoized answer.
func (s GraphSolution) clone() GraphSolution {
	out := s
	out.Partitions = slices.Clone(s.Partitions)
	out.Decodings = slices.Clone(s.Decodings)
	if s.Switches != nil {
		out.Switches = make(map[Switch]KeySwitchDecomposition, len(s.Switches))
		for k, v := range s.Switches {
			out.Switches[k] = v
		}
	}
	return out
}

// KeySwitchBetween returns the variance (modular units) and complexity of a keyswitch
// from the big key of from (dimension kN = k·N of from) to the small key of to
// (dimension n of to), with the given decomposition, at the given security level:
//
//	variance   = kN · [ (q²/(12·B^2l) − 1/12)·(v_k + s_k) + v_k/4 + l·σ_min(n)²·(B²+2)/12 ]
//	complexity = kN·l + kN·l·(n+1) + (kN·l − 1)·(n+1) + 1
//
// With from == to it is [Params.KeySwitchVariance] and [Params.KeySwitchComplexity] of
// that set with the decomposition given (the KS fields of the sets are ignored). Errors
// wrap [ErrInvalidParams] for a bad decomposition, [ErrUnsupportedSecurity] or
// [ErrInsecure].
func KeySwitchBetween(from, to Params, level, logBase, security int) (variance, complexity float64, err error) {
	if err := checkDecomposition("ks", level, logBase); err != nil {
		return 0, 0, err
	}
	vKSK, err := MinVariance(to.LWEDimension(), security)
	if err != nil {
		return 0, 0, fmt.Errorf("fhe: keyswitch %v → %v: keyswitching key: %w", from, to, err)
	}
	kN := from.GLWEDimension()
	return float64(kN) * keySwitchVariancePerCoefficient(level, logBase, vKSK),
		keySwitchComplexity(kN, to.LWEDimension(), level), nil
}

// normalized checks g and returns a copy with the defaults filled in: Security, nil
// PBS, Levelled and Fresh as zeros, KS without zero counts. The cost must be resolved
// already ([Optimizer.resolveCost]). Errors wrap ErrInvalidQuery
// (ErrUnsupportedSecurity for the level) and name the field and decoding.
func (g Graph) normalized() (Graph, error) {
	p := g.Partitions
	if p < 1 || p > MaxGraphPartitions {
		return g, fmt.Errorf("%w: graph: %d partitions outside 1..%d", ErrInvalidQuery, p, MaxGraphPartitions)
	}
	if g.Security == 0 {
		g.Security = DefaultSecurity
	}
	if err := CheckSecurity(g.Security); err != nil {
		return g, err
	}
	if g.Cost != CostMS && g.Cost != CostComplexity {
		return g, fmt.Errorf("%w: graph: cost %q: want ms or complexity", ErrInvalidQuery, g.Cost)
	}
	switch {
	case g.PError != 0 && g.GlobalPError != 0:
		return g, fmt.Errorf("%w: graph: set p_error (%g) or global_p_error (%g), not both", ErrInvalidQuery, g.PError, g.GlobalPError)
	case g.GlobalPError != 0:
		if err := CheckPError("graph: global_p_error", g.GlobalPError); err != nil {
			return g, err
		}
	case g.PError != 0:
		if err := CheckPError("graph: p_error", g.PError); err != nil {
			return g, err
		}
	default:
		return g, fmt.Errorf("%w: graph: set p_error or global_p_error", ErrInvalidQuery)
	}
	if len(g.Decodings) == 0 {
		return g, fmt.Errorf("%w: graph has no decoding", ErrInvalidQuery)
	}
	inRange := func(i int) bool { return i >= 0 && i < p }
	pbs := make([]int, p)
	if g.PBS != nil {
		if len(g.PBS) != p {
			return g, fmt.Errorf("%w: graph: %d PBS counts for %d partitions", ErrInvalidQuery, len(g.PBS), p)
		}
		for i, c := range g.PBS {
			if c < 0 {
				return g, fmt.Errorf("%w: graph: partition %d: PBS count %d below 0", ErrInvalidQuery, i, c)
			}
		}
		copy(pbs, g.PBS)
	}
	g.PBS = pbs
	lev := make([]float64, p)
	if g.Levelled != nil {
		if len(g.Levelled) != p {
			return g, fmt.Errorf("%w: graph: %d levelled counts for %d partitions", ErrInvalidQuery, len(g.Levelled), p)
		}
		for i, c := range g.Levelled {
			if !(c >= 0) || math.IsInf(c, 1) {
				return g, fmt.Errorf("%w: graph: partition %d: levelled count %g not finite and ≥ 0", ErrInvalidQuery, i, c)
			}
			lev[i] = c + 0 // −0 → +0
		}
	}
	g.Levelled = lev
	ks := make(map[Switch]int, len(g.KS))
	for s, c := range g.KS {
		if !inRange(s.From) || !inRange(s.To) {
			return g, fmt.Errorf("%w: graph: keyswitch %v outside partitions 0..%d", ErrInvalidQuery, s, p-1)
		}
		if c < 0 {
			return g, fmt.Errorf("%w: graph: keyswitch %v: count %d below 0", ErrInvalidQuery, s, c)
		}
		if c > 0 {
			ks[s] = c
		}
	}
	g.KS = ks
	decs := make([]Decoding, len(g.Decodings))
	for i, d := range g.Decodings {
		where := fmt.Sprintf("decoding %d (%q)", i, d.Name)
		if d.Precision < MinDecodingPrecision || d.Precision > MaxPrecision {
			return g, fmt.Errorf("%w: %s: precision %d outside %d..%d bits", ErrInvalidQuery, where, d.Precision, MinDecodingPrecision, MaxPrecision)
		}
		if d.Count < 1 {
			return g, fmt.Errorf("%w: %s: count %d below 1", ErrInvalidQuery, where, d.Count)
		}
		if len(d.BR) != p {
			return g, fmt.Errorf("%w: %s: %d BR coefficients for %d partitions", ErrInvalidQuery, where, len(d.BR), p)
		}
		if d.Fresh != nil && len(d.Fresh) != p {
			return g, fmt.Errorf("%w: %s: %d Fresh coefficients for %d partitions", ErrInvalidQuery, where, len(d.Fresh), p)
		}
		br, fresh := make([]float64, p), make([]float64, p)
		for j := range p {
			br[j] = d.BR[j] + 0
			if d.Fresh != nil {
				fresh[j] = d.Fresh[j] + 0
			}
			if !(br[j] >= 0) || math.IsInf(br[j], 1) || !(fresh[j] >= 0) || math.IsInf(fresh[j], 1) {
				return g, fmt.Errorf("%w: %s: partition %d: coefficients %g (BR), %g (Fresh) not finite and ≥ 0", ErrInvalidQuery, where, j, br[j], fresh[j])
			}
		}
		d.BR, d.Fresh = br, fresh
		if !inRange(d.Src) || !inRange(d.Dst) {
			return g, fmt.Errorf("%w: %s: Src %d or Dst %d outside partitions 0..%d", ErrInvalidQuery, where, d.Src, d.Dst, p-1)
		}
		if d.Bootstrap {
			if s := (Switch{d.Src, d.Dst}); ks[s] < 1 {
				return g, fmt.Errorf("%w: %s: bootstraps through keyswitch %v, which the graph never counts", ErrInvalidQuery, where, s)
			}
			if pbs[d.Dst] < 1 {
				return g, fmt.Errorf("%w: %s: bootstraps in partition %d, which counts no PBS", ErrInvalidQuery, where, d.Dst)
			}
		} else {
			d.Dst = d.Src // unused for an output
		}
		decs[i] = d
	}
	g.Decodings = decs
	return g, nil
}

// key returns a canonical key of a normalized graph for the memo: equal graphs (up to
// nil versus zero coefficients, zero keyswitch counts and −0) get equal keys.
func (g *Graph) key() string {
	b := make([]byte, 0, 64+len(g.Decodings)*(32+16*g.Partitions))
	u := func(v int) { b = binary.AppendVarint(b, int64(v)) }
	f := func(v float64) { b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v+0)) }
	u(g.Partitions)
	u(g.Security)
	u(len(g.Cost))
	b = append(b, g.Cost...)
	f(g.PError)
	f(g.GlobalPError)
	for i := range g.Partitions {
		u(g.PBS[i])
		f(g.Levelled[i])
	}
	sw := sortedSwitches(g.KS)
	u(len(sw))
	for _, s := range sw {
		u(s.From)
		u(s.To)
		u(g.KS[s])
	}
	u(len(g.Decodings))
	for _, d := range g.Decodings {
		u(len(d.Name))
		b = append(b, d.Name...)
		u(d.Precision)
		u(d.Count)
		for j := range g.Partitions {
			f(d.BR[j])
			f(d.Fresh[j])
		}
		boot := 0
		if d.Bootstrap {
			boot = 1
		}
		u(boot)
		u(d.Src)
		u(d.Dst)
	}
	return string(b)
}

// sortedSwitches returns the switches of a count map ordered by From, then To.
func sortedSwitches(m map[Switch]int) []Switch {
	out := make([]Switch, 0, len(m))
	for s := range m {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Switch) int {
		if a.From != b.From {
			return a.From - b.From
		}
		return a.To - b.To
	})
	return out
}
