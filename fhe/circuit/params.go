package circuit

import (
	"errors"
	"fmt"

	"github.com/fhetune/fhetune/fhe"
)

// ParamsConfig holds the error-probability and crypto knobs of ChooseParams.
type ParamsConfig struct {
	// PError is p_error, the error probability of each TLU, in (0, 1). Set at most one of
	// PError and GlobalPError; with neither, fhe.DefaultPError (Concrete ML's 2^−40) applies.
	PError float64
	// GlobalPError is global_p_error, the probability that any TLU of one inference errs.
	GlobalPError float64
	// Strategy is multi-parameter (one set per TLU layer, the default) or mono-parameter.
	Strategy fhe.Strategy
	// Security is the security level in bits; 0 means fhe.DefaultSecurity.
	Security int
}

// Check returns an error wrapping ErrConfig for a p_error out of (0, 1), both p_error and
// global_p_error, an unknown strategy or an unsupported security level.
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
	return nil
}

// Groups returns the circuit's TLUs as the optimizer takes them: one group per TLU layer
// (its precision, log2 norm2, dot-product size and TLU count).
func (c *Circuit) Groups() []fhe.TLUGroup {
	gs := make([]fhe.TLUGroup, 0, c.TLULayers())
	for _, l := range c.Layers[:c.TLULayers()] {
		gs = append(gs, fhe.TLUGroup{Precision: l.TLUBits, Log2Norm2: l.Log2Norm2, SumSize: max(1, l.SumSize), Count: l.TLUCount})
	}
	return gs
}

// ChooseParams asks the optimizer for the crypto sets of the circuit's TLU layers.
// Group i of the solution belongs to Layers[i]. Errors wrap ErrConfig for bad knobs,
// ErrNoTLU for a circuit without TLU, and ErrNoParams in a *LayerError naming the layer
// that no set can serve.
func (c *Circuit) ChooseParams(o *fhe.Optimizer, cfg ParamsConfig) (fhe.CircuitSolution, error) {
	if err := cfg.Check(); err != nil {
		return fhe.CircuitSolution{}, err
	}
	if c.TLULayers() == 0 {
		return fhe.CircuitSolution{}, fmt.Errorf("%w: it has no activation, so nothing is bootstrapped (use a network with a hidden layer)", ErrNoTLU)
	}
	q := fhe.CircuitQuery{Groups: c.Groups(), PError: cfg.PError, GlobalPError: cfg.GlobalPError,
		Strategy: cfg.Strategy, Security: cfg.Security}
	if q.PError == 0 && q.GlobalPError == 0 {
		q.PError = fhe.DefaultPError
	}
	sol, err := o.Circuit(q)
	if err == nil {
		return sol, nil
	}
	if !errors.Is(err, fhe.ErrNoSolution) {
		return fhe.CircuitSolution{}, fmt.Errorf("choose parameters: %w", err)
	}
	// Name the layer: the first one that no set serves alone.
	target, _, terr := q.PerTLUTarget()
	if terr != nil {
		return fhe.CircuitSolution{}, fmt.Errorf("choose parameters: %w", err)
	}
	for i, g := range q.Groups {
		_, gerr := o.Optimize(fhe.Query{Precision: g.Precision, Log2Norm2: g.Log2Norm2, PError: target, Security: cfg.Security, SumSize: g.SumSize})
		if errors.Is(gerr, fhe.ErrNoSolution) {
			l := c.Layers[i]
			hint := "use fewer n_w_bits/n_a_bits"
			if c.Config.RoundingThresholdBits == 0 || l.TLUBits == c.Config.RoundingThresholdBits {
				hint = "set a lower rounding_threshold_bits or use fewer n_w_bits/n_a_bits"
			}
			return fhe.CircuitSolution{}, &LayerError{Layer: l.Name, Err: ErrNoParams, Cause: gerr, Hint: hint + ", or allow a larger p_error",
				Why: "no crypto parameter set for its TLUs"}
		}
	}
	return fhe.CircuitSolution{}, fmt.Errorf("%w: no single set serves every layer (mono-parameter; try multi): %w", ErrNoParams, err)
}

// PErrors returns the actual per-TLU error probability of each TLU layer under sol, the
// values Simulate takes.
func PErrors(sol fhe.CircuitSolution) []float64 {
	ps := make([]float64, len(sol.Groups))
	for i, g := range sol.Groups {
		ps[i] = g.PError
	}
	return ps
}
