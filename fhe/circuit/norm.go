package circuit

// compositeNorm2Sq returns the largest squared 2-norm, over the outputs of the last
// operation, of the integer coefficients that the chain of levelled operations ops gives
// each of its inputs: the variance factor of the noise that the encrypted inputs carry
// into one accumulator. Coefficients compose exactly: a window sum after a convolution,
// or a dot product after a window sum, multiplies and adds the integers (overlapping
// windows included). With no operation the accumulator is the input itself (1).
func compositeNorm2Sq(ops []*intOp) int64 {
	if len(ops) == 0 {
		return 1
	}
	last := ops[len(ops)-1]
	if len(ops) == 1 && last.kind == opLinear {
		var best int64
		for o := 0; o < last.out; o++ {
			var s int64
			for _, q := range last.qw[o*last.in : (o+1)*last.in] {
				s += q * q
			}
			best = max(best, s)
		}
		return best
	}
	// Walk each output's coefficient vector back through the chain with dense scratch
	// vectors and lists of the touched entries.
	scratch := make([][]int64, len(ops))
	touched := make([][]int, len(ops))
	for k, op := range ops {
		scratch[k] = make([]int64, op.in)
	}
	type term struct {
		idx  int
		coef int64
	}
	var cur, next []term
	var best int64
	for a := 0; a < last.out; a++ {
		cur = append(cur[:0], term{a, 1})
		for k := len(ops) - 1; k >= 0; k-- {
			dst, tl := scratch[k], touched[k][:0]
			for _, t := range cur {
				ops[k].row(t.idx, func(j int, w int64) {
					if dst[j] == 0 {
						tl = append(tl, j)
					}
					dst[j] += t.coef * w
				})
			}
			next = next[:0]
			for _, j := range tl {
				if dst[j] != 0 {
					next = append(next, term{j, dst[j]})
				}
				dst[j] = 0
			}
			touched[k] = tl
			cur, next = next, cur
		}
		var s int64
		for _, t := range cur {
			s += t.coef * t.coef
		}
		best = max(best, s)
	}
	return best
}

// row calls f for each input j and integer coefficient w of output idx (zero
// coefficients may be skipped). A touched entry can return to zero; callers handle it.
func (o *intOp) row(idx int, f func(j int, w int64)) {
	switch o.kind {
	case opLinear:
		for j, q := range o.qw[idx*o.in : (idx+1)*o.in] {
			if q != 0 {
				f(j, q)
			}
		}
	case opConv:
		g := o.conv
		oh, ow := g.outHW()
		ch, pos := idx/(oh*ow), idx%(oh*ow)
		p, q := pos/ow, pos%ow
		k := g.InC * g.KH * g.KW
		w := o.qw[ch*k : (ch+1)*k]
		for c := 0; c < g.InC; c++ {
			for i := 0; i < g.KH; i++ {
				y := p*g.Stride - g.Pad + i
				if y < 0 || y >= g.InH {
					continue
				}
				for jj := 0; jj < g.KW; jj++ {
					x := q*g.Stride - g.Pad + jj
					if x < 0 || x >= g.InW {
						continue
					}
					if v := w[(c*g.KH+i)*g.KW+jj]; v != 0 {
						f((c*g.InH+y)*g.InW+x, v)
					}
				}
			}
		}
	default:
		g := o.pool
		oh, ow := g.outHW()
		ch, pos := idx/(oh*ow), idx%(oh*ow)
		p, q := pos/ow, pos%ow
		for i := 0; i < g.K; i++ {
			for j := 0; j < g.K; j++ {
				f((ch*g.InH+p*g.Stride+i)*g.InW+q*g.Stride+j, 1)
			}
		}
	}
}
