package conv

import "gonum.org/v1/gonum/mat"

// Geom is the shape of a convolution window over an input of InC×InH×InW.
type Geom struct{ InC, InH, InW, KH, KW, Stride, Pad int }

// OutHW returns the output's spatial size: (In + 2·Pad − K)/Stride + 1 on each axis.
func (g Geom) OutHW() (oh, ow int) {
	return (g.InH+2*g.Pad-g.KH)/g.Stride + 1, (g.InW+2*g.Pad-g.KW)/g.Stride + 1
}

// Im2col fills cols, of (m·OH·OW) × (InC·KH·KW), with the windows of rows r0..r0+m−1 of
// x: row (s·OH + p)·OW + q holds the window of output position (p, q) of sample s, in
// column order c·KH·KW + kh·KW + kw. Positions in the padding take the value pad (zero
// for a float convolution, the zero point for a quantized one). It panics if cols is
// smaller than that.
func Im2col(x *mat.Dense, g Geom, r0, m int, pad float64, cols *mat.Dense) {
	oh, ow := g.OutHW()
	plane := g.InH * g.InW
	for s := 0; s < m; s++ {
		xs := x.RawRowView(r0 + s)
		for p := 0; p < oh; p++ {
			for q := 0; q < ow; q++ {
				row := cols.RawRowView((s*oh+p)*ow + q)
				i := 0
				for c := 0; c < g.InC; c++ {
					img := xs[c*plane : (c+1)*plane]
					for ki := 0; ki < g.KH; ki++ {
						y := p*g.Stride - g.Pad + ki
						if y < 0 || y >= g.InH {
							for j := 0; j < g.KW; j++ {
								row[i+j] = pad
							}
							i += g.KW
							continue
						}
						line := img[y*g.InW : (y+1)*g.InW]
						for kj := 0; kj < g.KW; kj++ {
							xx := q*g.Stride - g.Pad + kj
							if xx < 0 || xx >= g.InW {
								row[i] = pad
							} else {
								row[i] = line[xx]
							}
							i++
						}
					}
				}
			}
		}
	}
}
