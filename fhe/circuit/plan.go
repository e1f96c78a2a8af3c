package circuit

import "fmt"

// The exported view of a compiled circuit that an encrypted executor needs: the integer
// terms of every accumulator and the tables of every TLU. An executor runs exactly
// these, so encrypted inference and Simulate share one description of the network.

// Terms calls f with every encrypted input of accumulator j of layer i and its integer
// weight (zero weights are skipped), and returns the clear constant added to the
// accumulator: a convolution's padding reads the input zero point, which the server
// adds as a plaintext. The accumulator is Σ w·x[input] + constant.
func (c *Circuit) Terms(i, j int, f func(input int, weight int64)) (constant int64, err error) {
	if i < 0 || i >= len(c.stages) {
		return 0, fmt.Errorf("%w: layer %d of %d", ErrConfig, i, len(c.stages))
	}
	st := c.stages[i]
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
		kk := g.InC * g.KH * g.KW
		ws := o.qw[ch*kk : (ch+1)*kk]
		pad := int64(o.pad)
		for ci := 0; ci < g.InC; ci++ {
			for a := 0; a < g.KH; a++ {
				for b := 0; b < g.KW; b++ {
					w := ws[(ci*g.KH+a)*g.KW+b]
					y, x := p*g.Stride-g.Pad+a, q*g.Stride-g.Pad+b
					if w == 0 {
						continue
					}
					if y < 0 || y >= g.InH || x < 0 || x >= g.InW {
						constant += w * pad
						continue
					}
					f((ci*g.InH+y)*g.InW+x, w)
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

// TLUTable returns the table of the TLU of element j of TLU layer i: entry u, for u in
// [0, 2^P), is the output of a bootstrap whose input index is u (the rounded
// accumulator plus 2^(P−1) when it is signed, see [LayerInfo]); an index u + 2^P in the
// padding half gives −table[u], which the bootstrap's negacyclic rotation makes itself.
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
