package circuit

import (
	"fmt"
	"math"

	"github.com/fhetune/fhetune/fhe"
)

// Timing is what Estimate needs to know of a machine: calibrated times of the atomic
// pattern's parts. A calibration profile provides it (the tuner adapts one); tests may
// use a model of their own. Implementations must be safe for concurrent use.
type Timing interface {
	// PBSMillis returns the milliseconds of one keyswitch + programmable bootstrap with
	// p on one core while the others are idle.
	PBSMillis(p fhe.Params) float64
	// ParallelMillis returns the milliseconds of one keyswitch + bootstrap with p on one
	// core while k ≥ 1 cores each run one (k = 1 is PBSMillis): cores compete for memory
	// bandwidth and caches, so this grows with k.
	ParallelMillis(p fhe.Params, k int) float64
	// LevelledMillis returns the milliseconds of macs multiply-adds of LWE ciphertexts of
	// p's big key (dimension k·N) with clear integers, on one core.
	LevelledMillis(p fhe.Params, macs int64) float64
	// Source names where the figures come from (a calibration profile id, "default").
	Source() string
}

// Latency is the estimated time of one encrypted inference.
type Latency struct {
	// TotalMS is the sum of the layers' times: the latency of one sample.
	TotalMS float64 `json:"latency_ms"`
	// PBSCount is the number of programmable bootstraps of one sample.
	PBSCount int `json:"pbs_count"`
	// MaxTLUBits is the largest TLU precision.
	MaxTLUBits int `json:"max_tlu_bits"`
	// Cores is the number of cores the estimate spreads bootstraps over.
	Cores int `json:"cores"`
	// Source is the Timing's source.
	Source string `json:"calibration"`
	// BootstrapKeyMB and KeySwitchKeyMB are the sizes, in MB (10^6 bytes), of the
	// evaluation keys of all distinct sets (64-bit coefficients; the keyswitches between
	// the sets of a multi-parameter circuit are not counted).
	BootstrapKeyMB float64 `json:"bootstrap_key_mb"`
	KeySwitchKeyMB float64 `json:"keyswitch_key_mb"`
	// Layers breaks the total down per circuit layer.
	Layers []LayerLatency `json:"layers"`
}

// LayerLatency is the estimated time of one layer.
type LayerLatency struct {
	Name     string `json:"name"`
	TLUCount int    `json:"tlu_count"`
	// Params is the layer's crypto set: its own for a TLU layer, and for the output layer
	// the set of the TLUs whose outputs it sums.
	Params fhe.Params `json:"params"`
	// PBSMS is one keyswitch + bootstrap on one core alone; 0 for the output layer.
	PBSMS float64 `json:"pbs_ms"`
	// BootstrapMS is the time of the layer's bootstraps over the cores: ⌊T/c⌋ rounds of c
	// parallel bootstraps and one round of the T mod c left.
	BootstrapMS float64 `json:"bootstrap_ms"`
	// LevelledMS is the time of the layer's dot products and window sums, spread evenly
	// over the cores.
	LevelledMS float64 `json:"levelled_ms"`
	// LayerMS = BootstrapMS + LevelledMS.
	LayerMS float64 `json:"layer_ms"`
}

// Estimate returns the latency of one inference of c with the sets of sol (from
// ChooseParams) on cores cores (≥ 1): per TLU layer with T TLUs, ⌊T/cores⌋ rounds of
// cores bootstraps in parallel at t.ParallelMillis(p, cores) each, plus a round of the
// T mod cores left at t.ParallelMillis(p, T mod cores), plus the levelled work of the
// layer (its multiply-adds at t.LevelledMillis, divided by cores). The dot product
// feeding a TLU layer is counted with that layer's set; the output layer's with the set
// of the last TLU layer.
func (c *Circuit) Estimate(sol fhe.CircuitSolution, t Timing, cores int) (Latency, error) {
	nt := c.TLULayers()
	if len(sol.Groups) != nt {
		return Latency{}, fmt.Errorf("%w: %d parameter sets for %d TLU layers", ErrConfig, len(sol.Groups), nt)
	}
	if nt == 0 {
		return Latency{}, fmt.Errorf("%w: nothing to estimate", ErrNoTLU)
	}
	if cores < 1 {
		return Latency{}, fmt.Errorf("%w: cores %d below 1", ErrConfig, cores)
	}
	lat := Latency{PBSCount: c.PBSCount(), MaxTLUBits: c.MaxTLUBits(), Cores: cores, Source: t.Source()}
	seen := map[fhe.ParamsLiteral]bool{}
	for i, l := range c.Layers {
		ll := LayerLatency{Name: l.Name, TLUCount: l.TLUCount}
		if i < nt {
			ll.Params = sol.Groups[i].Params
			ll.PBSMS = t.PBSMillis(ll.Params)
			rounds, rest := l.TLUCount/cores, l.TLUCount%cores
			if rounds > 0 {
				ll.BootstrapMS = float64(rounds) * t.ParallelMillis(ll.Params, cores)
			}
			if rest > 0 {
				ll.BootstrapMS += t.ParallelMillis(ll.Params, rest)
			}
			if lit := ll.Params.Literal(); !seen[lit] {
				seen[lit] = true
				bsk, ksk := KeyBytes(ll.Params)
				lat.BootstrapKeyMB += bsk / 1e6
				lat.KeySwitchKeyMB += ksk / 1e6
			}
		} else {
			ll.Params = sol.Groups[nt-1].Params
		}
		ll.LevelledMS = t.LevelledMillis(ll.Params, l.LevelledOps) / float64(cores)
		ll.LayerMS = ll.BootstrapMS + ll.LevelledMS
		if math.IsNaN(ll.LayerMS) || math.IsInf(ll.LayerMS, 0) || ll.LayerMS < 0 {
			return Latency{}, fmt.Errorf("%w: timing gives %v ms for layer %s", ErrConfig, ll.LayerMS, l.Name)
		}
		lat.TotalMS += ll.LayerMS
		lat.Layers = append(lat.Layers, ll)
	}
	return lat, nil
}

// KeyBytes returns the sizes in bytes of the bootstrap key, n GGSW ciphertexts of
// (k+1)·l_br GLWE ciphertexts of k+1 polynomials of N 64-bit coefficients, n·(k+1)²·l_br·N·8,
// and of the keyswitching key, k·N·l_ks LWE ciphertexts of dimension n, k·N·l_ks·(n+1)·8.
func KeyBytes(p fhe.Params) (bootstrap, keyswitch float64) {
	k1 := float64(p.GLWERank() + 1)
	bootstrap = 8 * float64(p.LWEDimension()) * k1 * k1 * float64(p.BRLevel()) * float64(p.PolyDegree())
	keyswitch = 8 * float64(p.GLWEDimension()) * float64(p.KSLevel()) * float64(p.LWEDimension()+1)
	return bootstrap, keyswitch
}
