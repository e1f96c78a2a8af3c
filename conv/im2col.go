package conv

import "gonum.org/v1/gonum/mat"

// Geom is the shape of a convolution window over an input of InC×InH×InW.
//
// Dilation spaces the kernel's taps: tap (i, j) reads the input at
// (p·Stride − Pad + i·Dilation, q·Stride − Pad + j·Dilation); 0 means 1 (no dilation), so
// literals that predate the field keep their meaning.
//
// C0 is the first channel the window reads in an input of more channels: the Geom reads
// channels C0..C0+InC−1 (element (c, h, w) of the window is element (C0 + c, h, w) of the
// sample). A grouped convolution calls Im2col once per group with C0 at the group's first
// input channel, so that callers need not copy the group's channels out of x. The input's
// total channel count does not matter to the Geom; each row of x must hold at least
// (C0 + InC)·InH·InW numbers.
type Geom struct{ InC, InH, InW, KH, KW, Stride, Pad, Dilation, C0 int }

// dil returns the dilation, 1 for 0.
func (g Geom) dil() int { return max(1, g.Dilation) }

// ExtentHW returns the span of the dilated kernel on each axis: Dilation·(K − 1) + 1.
func (g Geom) ExtentHW() (eh, ew int) {
	d := g.dil()
	return d*(g.KH-1) + 1, d*(g.KW-1) + 1
}

// OutHW returns the output's spatial size: (In + 2·Pad − E)/Stride + 1 on each axis, E
// the dilated kernel extent Dilation·(K − 1) + 1.
func (g Geom) OutHW() (oh, ow int) {
	eh, ew := g.ExtentHW()
	return (g.InH+2*g.Pad-eh)/g.Stride + 1, (g.InW+2*g.Pad-ew)/g.Stride + 1
}

// Im2col fills cols, of (m·OH·OW) × (InC·KH·KW), with the windows of rows r0..r0+m−1 of
// x: row (s·OH + p)·OW + q holds the window of output position (p, q) of sample s, in
// column order c·KH·KW + kh·KW + kw, the value x[C0 + c][p·Stride − Pad + kh·Dilation]
// [q·Stride − Pad + kw·Dilation]. Positions in the padding take the value pad (zero for
// a float convolution, the zero point for a quantized one). It panics if cols is smaller
// than that.
func Im2col(x *mat.Dense, g Geom, r0, m int, pad float64, cols *mat.Dense) {
	oh, ow := g.OutHW()
	d := g.dil()
	plane := g.InH * g.InW
	for s := 0; s < m; s++ {
		xs := x.RawRowView(r0 + s)[g.C0*plane:]
		for p := 0; p < oh; p++ {
			for q := 0; q < ow; q++ {
				row := cols.RawRowView((s*oh+p)*ow + q)
				i := 0
				for c := 0; c < g.InC; c++ {
					img := xs[c*plane : (c+1)*plane]
					for ki := 0; ki < g.KH; ki++ {
						y := p*g.Stride - g.Pad + ki*d
						if y < 0 || y >= g.InH {
							for j := 0; j < g.KW; j++ {
								row[i+j] = pad
							}
							i += g.KW
							continue
						}
						line := img[y*g.InW : (y+1)*g.InW]
						for kj := 0; kj < g.KW; kj++ {
							xx := q*g.Stride - g.Pad + kj*d
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

// Col2im is Im2col's adjoint: it adds each window entry of dcols (laid out as Im2col
// writes cols) to the input element it was read from, in rows 0..m−1 of dx, channels
// C0..C0+InC−1; entries read from the padding are dropped. It does not clear dx first
// (a grouped convolution adds its groups one after the other), and it panics if dcols
// or dx is smaller than the geometry needs.
func Col2im(dcols *mat.Dense, g Geom, m int, dx *mat.Dense) {
	oh, ow := g.OutHW()
	d := g.dil()
	plane := g.InH * g.InW
	for s := 0; s < m; s++ {
		xs := dx.RawRowView(s)[g.C0*plane:]
		for p := 0; p < oh; p++ {
			for q := 0; q < ow; q++ {
				row := dcols.RawRowView((s*oh+p)*ow + q)
				i := 0
				for c := 0; c < g.InC; c++ {
					img := xs[c*plane : (c+1)*plane]
					for ki := 0; ki < g.KH; ki++ {
						y := p*g.Stride - g.Pad + ki*d
						if y < 0 || y >= g.InH {
							i += g.KW
							continue
						}
						line := img[y*g.InW : (y+1)*g.InW]
						for kj := 0; kj < g.KW; kj++ {
							if xx := q*g.Stride - g.Pad + kj*d; xx >= 0 && xx < g.InW {
								line[xx] += row[i]
							}
							i++
						}
					}
				}
			}
		}
	}
}
