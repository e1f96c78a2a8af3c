package fhe

import (
	"encoding/json"
	"fmt"
)

// ParamsLiteral is one TFHE parameter set of the atomic pattern
// dot product → keyswitch → programmable bootstrap, in the form users, the optimizer and
// the study store write. Compile checks it and derives the rest.
type ParamsLiteral struct {
	// GLWERank is k, the GLWE dimension.
	GLWERank int `json:"glwe_dimension"`
	// LogPolyDegree is log2 N, N the polynomial size.
	LogPolyDegree int `json:"log2_polynomial_size"`
	// LWEDimension is n, the dimension of the small LWE key the bootstrap starts from.
	LWEDimension int `json:"lwe_dimension"`
	// BRLevel and BRLogBase are the blind-rotation (bootstrap key) decomposition.
	BRLevel   int `json:"br_level"`
	BRLogBase int `json:"br_log2_base"`
	// KSLevel and KSLogBase are the keyswitch decomposition.
	KSLevel   int `json:"ks_level"`
	KSLogBase int `json:"ks_log2_base"`
}

// Params is a checked, read-only parameter set made by [ParamsLiteral.Compile].
type Params struct {
	lit ParamsLiteral
}

// Structural bounds that Compile enforces. Security is checked separately, so that
// small insecure sets stay usable in tests of the bootstrap runner.
const (
	maxGLWERank      = 16
	maxLogPolyDegree = 17
	maxLWEDimension  = 1 << 14
	logQ             = 64
)

// Compile checks the literal and returns the compiled set. An error names the field and
// the bound it broke.
func (p ParamsLiteral) Compile() (Params, error) {
	switch {
	case p.GLWERank < 1 || p.GLWERank > maxGLWERank:
		return Params{}, fmt.Errorf("%w: glwe_dimension %d outside 1..%d", ErrInvalidParams, p.GLWERank, maxGLWERank)
	case p.LogPolyDegree < 1 || p.LogPolyDegree > maxLogPolyDegree:
		return Params{}, fmt.Errorf("%w: log2_polynomial_size %d outside 1..%d", ErrInvalidParams, p.LogPolyDegree, maxLogPolyDegree)
	case p.LWEDimension < 1 || p.LWEDimension > maxLWEDimension:
		return Params{}, fmt.Errorf("%w: lwe_dimension %d outside 1..%d", ErrInvalidParams, p.LWEDimension, maxLWEDimension)
	}
	if err := checkDecomposition("br", p.BRLevel, p.BRLogBase); err != nil {
		return Params{}, err
	}
	if err := checkDecomposition("ks", p.KSLevel, p.KSLogBase); err != nil {
		return Params{}, err
	}
	return Params{lit: p}, nil
}

// MustCompile is Compile for built-in presets; it panics on an invalid literal.
func (p ParamsLiteral) MustCompile() Params {
	c, err := p.Compile()
	if err != nil {
		panic(err)
	}
	return c
}

func checkDecomposition(name string, level, logBase int) error {
	if level < 1 || logBase < 1 || level*logBase > logQ {
		return fmt.Errorf("%w: %s_level %d × %s_log2_base %d must be ≥ 1 each with product ≤ %d",
			ErrInvalidParams, name, level, name, logBase, logQ)
	}
	return nil
}

// Literal returns the literal form of p, as stored and printed.
func (p Params) Literal() ParamsLiteral { return p.lit }

// GLWERank returns k.
func (p Params) GLWERank() int { return p.lit.GLWERank }

// LogPolyDegree returns log2 N.
func (p Params) LogPolyDegree() int { return p.lit.LogPolyDegree }

// PolyDegree returns N.
func (p Params) PolyDegree() int { return 1 << p.lit.LogPolyDegree }

// GLWEDimension returns k·N, the dimension of the big LWE key after sample extraction.
func (p Params) GLWEDimension() int { return p.lit.GLWERank << p.lit.LogPolyDegree }

// LWEDimension returns n.
func (p Params) LWEDimension() int { return p.lit.LWEDimension }

// BRLevel returns the blind-rotation decomposition level.
func (p Params) BRLevel() int { return p.lit.BRLevel }

// BRLogBase returns the blind-rotation decomposition log2 base.
func (p Params) BRLogBase() int { return p.lit.BRLogBase }

// KSLevel returns the keyswitch decomposition level.
func (p Params) KSLevel() int { return p.lit.KSLevel }

// KSLogBase returns the keyswitch decomposition log2 base.
func (p Params) KSLogBase() int { return p.lit.KSLogBase }

// String formats the set compactly, e.g. "k=1 N=2^11 n=750 br=1x23 ks=3x4".
func (p Params) String() string { return p.lit.String() }

// String formats the literal compactly, e.g. "k=1 N=2^11 n=750 br=1x23 ks=3x4".
func (p ParamsLiteral) String() string {
	return fmt.Sprintf("k=%d N=2^%d n=%d br=%dx%d ks=%dx%d", p.GLWERank, p.LogPolyDegree,
		p.LWEDimension, p.BRLevel, p.BRLogBase, p.KSLevel, p.KSLogBase)
}

// MarshalJSON writes p as its literal, with the JSON names of [ParamsLiteral].
func (p Params) MarshalJSON() ([]byte, error) { return json.Marshal(p.lit) }

// UnmarshalJSON reads a literal and compiles it; an invalid literal is an error.
func (p *Params) UnmarshalJSON(b []byte) error {
	var l ParamsLiteral
	if err := json.Unmarshal(b, &l); err != nil {
		return fmt.Errorf("fhe: parameter set: %w", err)
	}
	c, err := l.Compile()
	if err != nil {
		return err
	}
	*p = c
	return nil
}
