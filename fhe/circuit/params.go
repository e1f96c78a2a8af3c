package circuit

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/fhetune/fhetune/fhe"
)

// ParamsConfig holds the error-probability and crypto knobs of ChooseParams.
type ParamsConfig struct {
	// PError is p_error, the error probability of each decoding (TLU, bit extraction,
	// output), in (0, 1). Set at most one of PError and GlobalPError; with neither,
	// fhe.DefaultPError (Concrete ML's 2^−40) applies.
	PError float64
	// GlobalPError is global_p_error, the probability that any decoding of one
	// inference errs; the optimizer may spend it unevenly.
	GlobalPError float64
	// Strategy is multi-parameter (one partition per TLU precision, the default) or
	// mono-parameter (one set for the whole circuit).
	Strategy fhe.Strategy
	// Security is the security level in bits; 0 means fhe.DefaultSecurity.
	Security int
	// Cost is what the optimizer minimizes (fhe.CostMS or fhe.CostComplexity); empty
	// means the optimizer's default ([fhe.Optimizer.Cost]).
	Cost fhe.CostKind
}

// Check returns an error wrapping ErrConfig for a p_error out of (0, 1), both p_error and
// global_p_error, an unknown strategy, an unsupported security level or an unknown cost.
func (p ParamsConfig) Check() error {
	if p.PError != 0 && p.GlobalPError != 0 {
		return fmt.Errorf("%w: p_error and global_p_error both set; give one", ErrConfig)
	}
	if p.PError != 0 && !(p.PError > 0 && p.PError < 1) {
		return fmt.Errorf("%w: p_error %v outside (0, 1)", ErrConfig, p.PError)
	}
	if p.GlobalPError != 0 && !(p.GlobalPError > 0 && p.GlobalPError < 1) {
		return fmt.Errorf("%w: global_p_error %v outside (0, 1)", ErrConfig, p.GlobalPError)
	}
	if p.Strategy != fhe.MultiParameter && p.Strategy != fhe.MonoParameter {
		return fmt.Errorf("%w: strategy %d is neither multi nor mono", ErrConfig, int(p.Strategy))
	}
	if p.Security != 0 {
		if err := fhe.CheckSecurity(p.Security); err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	if p.Cost != "" {
		if _, err := fhe.ParseCostKind(string(p.Cost)); err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	return nil
}

// Solution is the crypto sets chosen for a circuit and what they give each layer.
type Solution struct {
	// Strategy and Security are the knobs the sets were chosen with.
	Strategy fhe.Strategy `json:"strategy"`
	Security int          `json:"security"`
	// PError is the per-decoding target, or 0 when GlobalPErrorTarget is set.
	PError             float64 `json:"p_error_target,omitempty"`
	GlobalPErrorTarget float64 `json:"global_p_error_target,omitempty"`
	// Graph is what the optimizer was asked, and Sets its answer.
	Graph fhe.Graph         `json:"-"`
	Sets  fhe.GraphSolution `json:"-"`
	// Layers holds one entry per circuit layer: the TLU layers, then the output.
	Layers []LayerParams `json:"layers"`
	// GlobalPError is the probability that any decoding of one inference errs,
	// 1 − Π (1 − p_d)^count_d over every TLU, bit extraction and output.
	GlobalPError float64 `json:"global_p_error"`
	// ExpectedErrors is the expected number of erring decodings per inference,
	// Σ count_d·p_d.
	ExpectedErrors float64 `json:"expected_errors"`
	// Complexity is Concrete's complexity of one inference, and MS its milliseconds on
	// one core at the optimizer's Timer's prices (0 without one), whichever chose the
	// sets; Cost says which did (fhe.CostMS or fhe.CostComplexity).
	Complexity float64      `json:"complexity"`
	MS         float64      `json:"ms,omitempty"`
	Cost       fhe.CostKind `json:"cost"`

	// decoding[i] lists the graph decodings of layer i: its extractions in bit order,
	// then its TLU (or its output).
	decoding [][]int
}

// LayerParams is the crypto side of one circuit layer.
type LayerParams struct {
	Name string `json:"name"`
	// Params is the set of the layer's TLUs (for the output layer: the set whose key
	// the outputs are decrypted with), Partition its index.
	Params    fhe.Params `json:"params"`
	Partition int        `json:"partition"`
	// Input is the set of the key the layer's accumulators are encrypted under (the
	// previous TLU layer's; the first layer's inputs are encrypted under its own
	// partition's key); a layer's bit extractions run with it.
	Input          fhe.Params `json:"input_params"`
	InputPartition int        `json:"input_partition"`
	// KSLevel and KSLogBase are the decomposition of the keyswitch from Input's big key
	// to Params' small key (0 for the output layer).
	KSLevel   int `json:"ks_level,omitempty"`
	KSLogBase int `json:"ks_log2_base,omitempty"`
	// PError is the error probability of the layer's worst TLU decoding (the output's
	// for the output layer); ExtractionPError the worst bit extraction's.
	PError           float64 `json:"p_error"`
	ExtractionPError float64 `json:"extraction_p_error,omitempty"`
}

// Partitions returns the partition of each TLU layer: every layer in partition 0 with
// the mono-parameter strategy; otherwise one partition per TLU precision, in increasing
// precision, as Concrete's default multi-parameter partitioning does
// (concrete-optimizer multi_parameters/partition_cut.rs, for_each_precision).
//
// Concrete gives bit extractions (precision 0) a partition of their own, joined to the
// accumulator by fast keyswitches; here they run with the key of the accumulator they
// read (the previous layer's partition), which needs no conversion.
//
// A max pool's comparisons run in the partition of their inputs (the previous TLU
// layer's; a max pool on the circuit's inputs gets its precision's): each comparison's
// TLU output is added to an input, so both must be under one key, which Concrete would
// reach with a conversion between partitions that this circuit does not model.
func (c *Circuit) Partitions(s fhe.Strategy) (tlu []int, n int) {
	tlu = make([]int, c.TLULayers())
	if s == fhe.MonoParameter {
		return tlu, 1
	}
	own := func(i int) bool { return c.stages[i].pool == nil || i == 0 }
	var precs []int
	for i, l := range c.Layers[:c.TLULayers()] {
		if own(i) {
			precs = append(precs, l.TLUBits)
		}
	}
	slices.Sort(precs)
	precs = slices.Compact(precs)
	for i, l := range c.Layers[:c.TLULayers()] {
		if !own(i) {
			tlu[i] = tlu[i-1]
			continue
		}
		tlu[i], _ = slices.BinarySearch(precs, l.TLUBits)
	}
	return tlu, len(precs)
}

// Graph returns the circuit as the joint optimizer takes it, and for each layer the
// indices of its decodings. Every layer's accumulators are encrypted under the key of
// the partition that produced its inputs (the first layer's under its own partition's
// key, with fresh-encryption noise), as Concrete's levelled blocks take their
// producer's partition (partitionning.rs). A layer with exact rounding adds one
// decoding per removed bit (Concrete's add_expanded_round: bit i is read at precision 0
// after the accumulator, carrying the noise of the i extractions before it, is shifted
// by 2^(L−i)), and its TLU carries the noise of all t of them; the output layer adds
// one decoding at the output's precision, without keyswitch (Concrete's output
// constraint, analyze.rs collect_all_variance_constraints).
//
// A max pool adds one decoding, its comparisons' TLUs at its width, with the noise
// 2ν + 1 of a difference (Concrete's addMaxpool2d in
// Dialect/FHE/Analysis/ConcreteOptimizer.cpp: one linear-noise node of weight
// √(2·smanp + 1) per input, one lut node counting K² comparisons per output, one
// linear-noise node for the addition), within its input's partition; its subtractions
// and additions count as levelled operations. A layer reading encrypted values that
// carry more than one bootstrap's noise (a max pool's maxima) scales its coefficients
// by it.
func (c *Circuit) Graph(cfg ParamsConfig) (fhe.Graph, [][]int, error) {
	if err := cfg.Check(); err != nil {
		return fhe.Graph{}, nil, err
	}
	nt := c.TLULayers()
	if nt == 0 {
		return fhe.Graph{}, nil, fmt.Errorf("%w: it has no activation, so nothing is bootstrapped (use a network with a hidden layer)", ErrNoTLU)
	}
	parts, np := c.Partitions(cfg.Strategy)
	g := fhe.Graph{Partitions: np, PBS: make([]int, np), KS: map[fhe.Switch]int{}, Levelled: make([]float64, np),
		PError: cfg.PError, GlobalPError: cfg.GlobalPError, Security: cfg.Security, Cost: cfg.Cost}
	if g.PError == 0 && g.GlobalPError == 0 {
		g.PError = fhe.DefaultPError
	}
	dec := make([][]int, len(c.Layers))
	for i, l := range c.Layers {
		src := parts[max(0, min(i, nt)-1)]
		if i == 0 {
			src = parts[0]
		}
		st := c.stages[i]
		n2 := float64(l.Norm2) * float64(l.Norm2)
		// coef returns the variance coefficients of the accumulator scaled by w: the
		// squared norm times the noise of each input.
		coef := func(w float64) (br, fresh []float64) {
			br, fresh = make([]float64, np), make([]float64, np)
			br[src] = w * n2 * float64(st.inBR)
			fresh[src] = w * n2 * float64(st.inFresh)
			return br, fresh
		}
		g.Levelled[src] += float64(l.LevelledOps)
		if st.pool != nil {
			// The difference m − x: the running maximum (a TLU output of this partition
			// plus an input) minus an input, 2ν + 1 in all.
			br, fresh := make([]float64, np), make([]float64, np)
			br[src] = float64(2*st.inBR + 1)
			fresh[src] = float64(2 * st.inFresh)
			dec[i] = append(dec[i], len(g.Decodings))
			g.Decodings = append(g.Decodings, fhe.Decoding{Name: l.Name, Precision: l.TLUBits, Count: l.TLUCount,
				BR: br, Fresh: fresh, Bootstrap: true, Src: src, Dst: src})
			g.PBS[src] += l.TLUCount
			g.KS[fhe.Switch{From: src, To: src}] += l.TLUCount
			continue
		}
		if l.Output {
			// An output wider than the optimizer's 16 bits is the same bound at 16 bits
			// with its variance scaled by 4^(bits − 16).
			prec := min(l.AccumulatorBits, fhe.MaxPrecision)
			br, fresh := coef(math.Exp2(float64(2 * (l.AccumulatorBits - prec))))
			dec[i] = append(dec[i], len(g.Decodings))
			g.Decodings = append(g.Decodings, fhe.Decoding{Name: l.Name + " output", Precision: prec,
				Count: c.outSize, BR: br, Fresh: fresh, Src: src, Dst: src})
			continue
		}
		for b := range l.Extractions {
			w := math.Exp2(float64(2 * (l.AccumulatorBits - b)))
			br, fresh := coef(w)
			br[src] += w * float64(b)
			dec[i] = append(dec[i], len(g.Decodings))
			g.Decodings = append(g.Decodings, fhe.Decoding{Name: fmt.Sprintf("%s bit %d", l.Name, b), Precision: 0,
				Count: l.TLUCount, BR: br, Fresh: fresh, Bootstrap: true, Src: src, Dst: src})
		}
		br, fresh := coef(1)
		br[src] += float64(l.Extractions)
		dec[i] = append(dec[i], len(g.Decodings))
		g.Decodings = append(g.Decodings, fhe.Decoding{Name: l.Name, Precision: l.TLUBits, Count: l.TLUCount,
			BR: br, Fresh: fresh, Bootstrap: true, Src: src, Dst: parts[i]})
		g.PBS[parts[i]] += l.TLUCount
		g.KS[fhe.Switch{From: src, To: parts[i]}] += l.TLUCount
		if l.Extractions > 0 {
			g.PBS[src] += l.Extractions * l.TLUCount
			g.KS[fhe.Switch{From: src, To: src}] += l.Extractions * l.TLUCount
		}
	}
	return g, dec, nil
}

// ChooseParams asks the optimizer for the crypto sets of the circuit: every partition
// jointly, keyswitches between partitions included, under one constraint per decoding
// (see [Circuit.Graph]). Errors wrap ErrConfig for bad knobs, ErrNoTLU for a circuit
// without TLU, and ErrNoParams in a *LayerError naming the layer whose decoding no set
// can serve.
func (c *Circuit) ChooseParams(o *fhe.Optimizer, cfg ParamsConfig) (*Solution, error) {
	g, dec, err := c.Graph(cfg)
	if err != nil {
		return nil, err
	}
	sets, err := o.Graph(g)
	if err != nil {
		if !errors.Is(err, fhe.ErrNoSolution) {
			return nil, fmt.Errorf("choose parameters: %w", err)
		}
		layer := c.Layers[0]
		var de *fhe.DecodingError
		if errors.As(err, &de) {
			for i, ds := range dec {
				if slices.Contains(ds, de.Index) {
					layer = c.Layers[i]
				}
			}
		}
		hint := "use fewer n_w_bits/n_a_bits"
		if c.Config.RoundingThresholdBits == 0 || layer.TLUBits == c.Config.RoundingThresholdBits {
			hint = "set a lower rounding_threshold_bits or use fewer n_w_bits/n_a_bits"
		}
		return nil, &LayerError{Layer: layer.Name, Err: ErrNoParams, Cause: err, Hint: hint + ", or allow a larger p_error",
			Why: "no crypto parameter set for its decodings"}
	}
	s := &Solution{Strategy: cfg.Strategy, Security: cfg.Security, PError: g.PError, GlobalPErrorTarget: g.GlobalPError,
		Graph: g, Sets: sets, GlobalPError: sets.GlobalPError, ExpectedErrors: sets.ExpectedErrors,
		Complexity: sets.Complexity, MS: sets.MS, Cost: sets.Cost, decoding: dec}
	if s.Security == 0 {
		s.Security = fhe.DefaultSecurity
	}
	for i, l := range c.Layers {
		last := g.Decodings[dec[i][len(dec[i])-1]]
		lp := LayerParams{Name: l.Name, Partition: last.Dst, InputPartition: last.Src,
			Params: sets.Partitions[last.Dst], Input: sets.Partitions[last.Src],
			PError: sets.Decodings[dec[i][len(dec[i])-1]].PError}
		if last.Bootstrap {
			d := sets.Switches[fhe.Switch{From: last.Src, To: last.Dst}]
			lp.KSLevel, lp.KSLogBase = d.Level, d.LogBase
		}
		for _, d := range dec[i][:len(dec[i])-1] {
			lp.ExtractionPError = max(lp.ExtractionPError, sets.Decodings[d].PError)
		}
		s.Layers = append(s.Layers, lp)
	}
	return s, nil
}

// Noise returns the noise of every decoding under sol, per group of each layer, with
// Concrete's noise model (the optimizer's): see [Circuit.NoiseOf].
func (c *Circuit) Noise(sol *Solution) (Noise, error) { return c.NoiseOf(sol, fhe.ConcreteNoise) }

// NoiseOf returns the noise of every decoding under sol with noise model m, per group
// of each layer: the decoding's variance at its worst group, less the part of the
// accumulator's variance that a group with a smaller weight norm does not carry, in
// steps of what the decoding reads (Δ = 2^(63−P) for a P-bit TLU, 2^63 for a bit
// extraction, which reads the padding bit). With [fhe.ConcreteNoise] the variances are
// the optimizer's; with [fhe.TFHEGoNoise] they are those of the same sets run by
// tfhe-go, which fhe/executor (and `fhetune verify`) runs.
func (c *Circuit) NoiseOf(sol *Solution, m fhe.NoiseModel) (Noise, error) {
	nt := c.TLULayers()
	if sol == nil || len(sol.Layers) != len(c.Layers) || len(sol.decoding) != len(c.Layers) {
		return Noise{}, fmt.Errorf("%w: solution is not this circuit's", ErrConfig)
	}
	vs, err := sol.Graph.Variances(sol.Sets, m)
	if err != nil {
		return Noise{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	n := Noise{Layers: make([]LayerNoise, nt)}
	for i := range nt {
		l, st := c.Layers[i], c.stages[i]
		z, err := sol.Layers[i].Input.NoiseOf(sol.Security, m)
		if err != nil {
			return Noise{}, fmt.Errorf("%w: layer %s: %w", ErrConfig, l.Name, err)
		}
		// The variance of one input of the layer.
		vsrc := float64(st.inBR)*z.BlindRotation + float64(st.inFresh)*z.BSKVariance
		n2 := float64(l.Norm2) * float64(l.Norm2)
		per := func(d int, w, step float64) []float64 {
			out := make([]float64, len(st.norm2Sq))
			for g, sq := range st.norm2Sq {
				if st.pool != nil {
					sq = int64(n2) // one group, whose exact noise the graph holds
				}
				out[g] = math.Sqrt(max(0, vs[d]-w*(n2-float64(sq))*vsrc)) / step
			}
			return out
		}
		ds := sol.decoding[i]
		for b, d := range ds[:len(ds)-1] {
			n.Layers[i].Extract = append(n.Layers[i].Extract, per(d, math.Exp2(float64(2*(l.AccumulatorBits-b))), math.Exp2(63)))
		}
		n.Layers[i].TLU = per(ds[len(ds)-1], 1, math.Exp2(float64(63-l.TLUBits)))
	}
	return n, nil
}
