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
	// BootstrapMillis returns the milliseconds of the bootstrap alone (blind rotation
	// and sample extraction, no keyswitch) with p on one core.
	BootstrapMillis(p fhe.Params) float64
	// KeySwitchMillis returns the milliseconds of one keyswitch from from's big key
	// (dimension k·N) to to's small key (dimension n) with a decomposition of level
	// levels, on one core: the keyswitch between the keys of two partitions.
	KeySwitchMillis(from, to fhe.Params, level int) float64
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
	// TLUCount is the number of table lookups, PBSCount the number of programmable
	// bootstraps (TLUs and the bit extractions of exact rounding) of one sample.
	TLUCount int `json:"tlu_count"`
	PBSCount int `json:"pbs_count"`
	// MaxTLUBits is the largest TLU precision.
	MaxTLUBits int `json:"max_tlu_bits"`
	// Cores is the number of cores the estimate spreads bootstraps over.
	Cores int `json:"cores"`
	// Source is the Timing's source.
	Source string `json:"calibration"`
	// BootstrapKeyMB and KeySwitchKeyMB are the sizes, in MB (10^6 bytes), of the
	// evaluation keys: one bootstrap key per partition, one keyswitching key per
	// keyswitch used (between partitions included).
	BootstrapKeyMB float64 `json:"bootstrap_key_mb"`
	KeySwitchKeyMB float64 `json:"keyswitch_key_mb"`
	// Layers breaks the total down per circuit layer.
	Layers []LayerLatency `json:"layers"`
}

// LayerLatency is the estimated time of one layer.
type LayerLatency struct {
	Name     string `json:"name"`
	TLUCount int    `json:"tlu_count"`
	// PBSCount counts the layer's bootstraps: TLUs and bit extractions.
	PBSCount int `json:"pbs_count"`
	// Params is the layer's TLU set (for the output layer, the set of its key).
	Params fhe.Params `json:"params"`
	// PBSMS is one TLU (its keyswitch and bootstrap) on one core alone; 0 for the
	// output layer.
	PBSMS float64 `json:"pbs_ms"`
	// TLUMS is the time of the layer's TLUs over the cores, RoundingMS that of its bit
	// extractions (t sequential rounds, each spread over the cores), and KeySwitchMS the
	// part of TLUMS spent in keyswitches between partitions.
	TLUMS       float64 `json:"tlu_ms"`
	RoundingMS  float64 `json:"rounding_ms"`
	KeySwitchMS float64 `json:"keyswitch_between_keys_ms"`
	// BootstrapMS = TLUMS + RoundingMS.
	BootstrapMS float64 `json:"bootstrap_ms"`
	// LevelledMS is the time of the layer's dot products and window sums, spread evenly
	// over the cores.
	LevelledMS float64 `json:"levelled_ms"`
	// LayerMS = BootstrapMS + LevelledMS.
	LayerMS float64 `json:"layer_ms"`
}

// spread returns the time of count independent operations of single milliseconds each
// on cores cores: ⌊count/cores⌋ rounds of cores in parallel and a round of the rest, at
// the parallel slow-down that t gives p.
func spread(t Timing, p fhe.Params, single float64, count, cores int) float64 {
	alone := t.PBSMillis(p)
	factor := func(k int) float64 {
		if alone <= 0 {
			return 1
		}
		return t.ParallelMillis(p, k) / alone
	}
	rounds, rest := count/cores, count%cores
	ms := 0.0
	if rounds > 0 {
		ms += float64(rounds) * single * factor(cores)
	}
	if rest > 0 {
		ms += single * factor(rest)
	}
	return ms
}

// Estimate returns the latency of one inference of c with the sets of sol (from
// ChooseParams) on cores cores (≥ 1). Per TLU layer with T TLUs and t extractions each:
// t rounds of T extractions (each a keyswitch + bootstrap with the accumulator's set;
// round i + 1 needs round i), then the T TLUs (a keyswitch from the accumulator's key to
// the TLU set's, then its bootstrap; a TLU in its accumulator's partition is one
// calibrated keyswitch + bootstrap), each round of T spread over the cores (⌊T/c⌋ rounds
// of c in parallel and one of the rest); plus the layer's levelled work at its
// accumulator's set, divided by cores. A max pool's K² comparisons per output run one
// after the other, so its TLUs are K² rounds of one TLU per output, each round spread
// over the cores.
func (c *Circuit) Estimate(sol *Solution, t Timing, cores int) (Latency, error) {
	nt := c.TLULayers()
	if nt == 0 {
		return Latency{}, fmt.Errorf("%w: nothing to estimate", ErrNoTLU)
	}
	if sol == nil || len(sol.Layers) != len(c.Layers) {
		return Latency{}, fmt.Errorf("%w: solution is not this circuit's", ErrConfig)
	}
	if cores < 1 {
		return Latency{}, fmt.Errorf("%w: cores %d below 1", ErrConfig, cores)
	}
	lat := Latency{TLUCount: c.TLUCount(), PBSCount: c.PBSCount(), MaxTLUBits: c.MaxTLUBits(), Cores: cores, Source: t.Source()}
	for _, p := range sol.Sets.Partitions {
		bsk, _ := KeyBytes(p)
		lat.BootstrapKeyMB += bsk / 1e6
	}
	for sw := range sol.Graph.KS {
		lat.KeySwitchKeyMB += keySwitchKeyBytes(sol.Sets.Partitions[sw.From], sol.Sets.Partitions[sw.To], sol.Sets.Switches[sw].Level) / 1e6
	}
	for i, l := range c.Layers {
		lp := sol.Layers[i]
		ll := LayerLatency{Name: l.Name, TLUCount: l.TLUCount, PBSCount: l.PBSCount(), Params: lp.Params}
		if i < nt {
			single, ks := t.PBSMillis(lp.Params), 0.0
			if lp.InputPartition != lp.Partition {
				ks = t.KeySwitchMillis(lp.Input, lp.Params, lp.KSLevel)
				single = t.BootstrapMillis(lp.Params) + ks
			}
			ll.PBSMS = single
			if p := c.stages[i].pool; p != nil {
				kk := p.g.K * p.g.K
				ll.TLUMS = float64(kk) * spread(t, lp.Params, single, l.TLUCount/kk, cores)
			} else {
				ll.TLUMS = spread(t, lp.Params, single, l.TLUCount, cores)
			}
			if single > 0 {
				ll.KeySwitchMS = ll.TLUMS * ks / single
			}
			ll.RoundingMS = float64(l.Extractions) * spread(t, lp.Input, t.PBSMillis(lp.Input), l.TLUCount, cores)
			ll.BootstrapMS = ll.TLUMS + ll.RoundingMS
		}
		ll.LevelledMS = t.LevelledMillis(lp.Input, l.LevelledOps) / float64(cores)
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
	keyswitch = keySwitchKeyBytes(p, p, p.KSLevel())
	return bootstrap, keyswitch
}

// keySwitchKeyBytes is the size of a keyswitching key from from's big key to to's
// small key: k·N·level LWE ciphertexts of dimension n, 8 bytes a coefficient.
func keySwitchKeyBytes(from, to fhe.Params, level int) float64 {
	return 8 * float64(from.GLWEDimension()) * float64(level) * float64(to.LWEDimension()+1)
}
