package fhe

// Term is one named, additive part of a variance or a cost.
type Term struct {
	// Name says what the term is, e.g. "keyswitch".
	Name string
	// Formula gives the term in the model's symbols, e.g. "kN·V_ks1".
	Formula string
	// Value is the term's value: a modular variance or a complexity.
	Value float64
	// Share is Value over the total it belongs to.
	Share float64
}

// Explanation breaks a solution down into the terms that decide it: which noise fills
// the variance budget and which operation dominates the cost.
type Explanation struct {
	// Variance holds the terms of the variance at decoding (modular units); they add up
	// to Solution.Variance. The FFT error is part of the blind rotation; FFTShare says
	// how much of it.
	Variance []Term
	// FFTShare is the part of the blind-rotation term that the float64 FFT adds.
	FFTShare float64
	// Headroom is VarianceBound/Variance: how far below the bound the set stays.
	Headroom float64
	// Kappa is the number of standard deviations the query's p_error allows.
	Kappa float64
	// Cost holds the terms of the complexity of one TLU; they add up to
	// Solution.Complexity.
	Cost []Term
}

// Explain returns the terms of s's variance and cost.
func (s Solution) Explain() Explanation {
	z, c := s.Noise, s.Cost
	f := norm2Squared(s.Query.Log2Norm2)
	br := f * z.BlindRotation
	e := Explanation{
		Variance: []Term{
			{Name: "blind rotation", Formula: "norm2²·n·V_cmux", Value: br},
			{Name: "keyswitch", Formula: "kN·V_ks1", Value: z.KeySwitch},
			{Name: "modulus switch", Formula: "V_ms(n, 2N)", Value: z.ModulusSwitch},
		},
		Cost: []Term{
			{Name: "bootstrap", Formula: "n·CMux(k, N, l_br)", Value: c.PBS},
			{Name: "keyswitch", Formula: "kN·l_ks·(2n+3) − n", Value: c.KeySwitch},
			{Name: "dot product", Formula: "sum_size·kN", Value: c.DotProduct},
		},
		Kappa: Kappa(s.Query.PError),
	}
	if z.CMux > 0 {
		e.FFTShare = z.FFT / z.CMux
	}
	if s.Variance > 0 {
		e.Headroom = s.VarianceBound / s.Variance
	}
	for i := range e.Variance {
		e.Variance[i].Share = e.Variance[i].Value / s.Variance
	}
	for i := range e.Cost {
		e.Cost[i].Share = e.Cost[i].Value / s.Complexity
	}
	return e
}
