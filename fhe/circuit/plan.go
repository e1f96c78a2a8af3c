package circuit

import "fmt"

// The exported view of a compiled circuit that an encrypted executor needs: the integer
// terms of every accumulator, the comparison chains of every max pool and the tables of
// every TLU. An executor runs exactly these, so encrypted inference and Simulate share
// one description of the network.

// Terms calls f with every encrypted input of accumulator j of layer i and its integer
// weight (zero weights are skipped), and returns the clear constant added to the
// accumulator: a convolution's padding reads the input zero point, which the server
// adds as a plaintext, and so is an integer bias (see [WeightQuant]). The accumulator is Σ w·x[input] + constant. A max-pool layer has
// no accumulators (see [Circuit.MaxPoolWindow]): Terms refuses it.
func (c *Circuit) Terms(i, j int, f func(input int, weight int64)) (constant int64, err error) {
	if i < 0 || i >= len(c.stages) {
		return 0, fmt.Errorf("%w: layer %d of %d", ErrConfig, i, len(c.stages))
	}
	st := c.stages[i]
	if st.pool != nil {
		return 0, fmt.Errorf("%w: layer %s is a max pool, which has no accumulators", ErrConfig, c.Layers[i].Name)
	}
	if j < 0 || j >= st.outSize {
		return 0, fmt.Errorf("%w: layer %s has %d accumulators, not %d", ErrConfig, c.Layers[i].Name, st.outSize, j)
	}
	o := st.op
	if o == nil {
		f(j, 1)
		return 0, nil
	}
	switch o.kind {
	case opLinear:
		constant = int64(o.bias[j])
		for k, w := range o.qw[j*o.in : (j+1)*o.in] {
			if w != 0 {
				f(k, w)
			}
		}
	case opConv:
		g := o.conv
		oh, ow := g.outHW()
		ch, pos := j/(oh*ow), j%(oh*ow)
		p, q := pos/ow, pos%ow
		ic := g.groupIn()
		kk := ic * g.KH * g.KW
		c0 := ch / g.groupOut() * ic // the first input channel of ch's group
		ws := o.qw[ch*kk : (ch+1)*kk]
		pad := int64(o.pad)
		constant = int64(o.bias[ch])
		for ci := 0; ci < ic; ci++ {
			for a := 0; a < g.KH; a++ {
				for b := 0; b < g.KW; b++ {
					w := ws[(ci*g.KH+a)*g.KW+b]
					y, x := p*g.Stride-g.Pad+a*g.Dilation, q*g.Stride-g.Pad+b*g.Dilation
					if w == 0 {
						continue
					}
					if y < 0 || y >= g.InH || x < 0 || x >= g.InW {
						constant += w * pad
						continue
					}
					f(((c0+ci)*g.InH+y)*g.InW+x, w)
				}
			}
		}
	default:
		g := o.pool
		oh, ow := g.outHW()
		ch, pos := j/(oh*ow), j%(oh*ow)
		p, q := pos/ow, pos%ow
		for a := 0; a < g.K; a++ {
			for b := 0; b < g.K; b++ {
				f((ch*g.InH+p*g.Stride+a)*g.InW+q*g.Stride+b, 1)
			}
		}
	}
	return constant, nil
}

// MaxPoolWindow returns, for output j of max-pool layer i, the inputs of its window in
// comparison order and the value the running maximum starts from. The executor computes
// the output as the circuit does: m = init (a trivial encryption); for each input x,
// m ← T(m − x) + x, T the layer's TLU (its [Circuit.TLUTable], the same for every output,
// relu of the difference; index m − x + [Circuit.IndexOffset]). The TLU writes at the
// layer's own step 2^(63−W), W its AccumulatorBits, which is also the step of its inputs
// and of the layer that reads its maxima.
func (c *Circuit) MaxPoolWindow(i, j int) (inputs []int, init int64, err error) {
	if i < 0 || i >= c.TLULayers() || c.stages[i].pool == nil {
		return nil, 0, fmt.Errorf("%w: layer %d is not a max pool", ErrConfig, i)
	}
	p := c.stages[i].pool
	if j < 0 || j >= len(p.windows) {
		return nil, 0, fmt.Errorf("%w: layer %s has %d outputs, not %d", ErrConfig, c.Layers[i].Name, len(p.windows), j)
	}
	return append([]int(nil), p.windows[j]...), p.init, nil
}

// TLUTable returns the table of the TLU of element j of TLU layer i: entry u, for u in
// [0, 2^P), is the output of a bootstrap whose input index is u (the rounded
// accumulator plus 2^(P−1) when it is signed, see [LayerInfo]); an index u + 2^P in the
// padding half gives −table[u], which the bootstrap's negacyclic rotation makes itself.
// For a max pool, j is an output and its K² comparisons share the table.
func (c *Circuit) TLUTable(i, j int) ([]int64, error) {
	if i < 0 || i >= c.TLULayers() {
		return nil, fmt.Errorf("%w: TLU layer %d of %d", ErrConfig, i, c.TLULayers())
	}
	t := c.stages[i].tlu
	if j < 0 || j >= c.stages[i].outSize {
		return nil, fmt.Errorf("%w: layer %s has %d TLUs, not %d", ErrConfig, c.Layers[i].Name, c.stages[i].outSize, j)
	}
	g := j / t.fn.group
	out := make([]int64, 1<<t.precision)
	for u := range out {
		out[u] = int64(t.lookup(g, int64(u)))
	}
	return out, nil
}

// IndexOffset returns the offset added to TLU layer i's rounded accumulator to make its
// bootstrap index: 2^(P−1) for a signed accumulator (Concrete's signed TLU), else 0.
func (c *Circuit) IndexOffset(i int) int64 {
	if i < 0 || i >= c.TLULayers() {
		return 0
	}
	return c.stages[i].tlu.offset
}
