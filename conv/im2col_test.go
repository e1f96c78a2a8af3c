package conv_test

import (
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/fhetune/fhetune/conv"
)

// TestIm2col checks every window element against its definition on two samples of a
// 2×3×4 input, with stride 2 and padding 1 filled with a marker value.
func TestIm2col(t *testing.T) {
	g := conv.Geom{InC: 2, InH: 3, InW: 4, KH: 3, KW: 2, Stride: 2, Pad: 1}
	oh, ow := g.OutHW()
	if oh != 2 || ow != 3 {
		t.Fatalf("OutHW = %d, %d; want 2, 3", oh, ow)
	}
	const m, pad = 2, -7.0
	x := mat.NewDense(m+1, g.InC*g.InH*g.InW, nil)
	for r := 0; r <= m; r++ {
		for j := range g.InC * g.InH * g.InW {
			x.Set(r, j, float64(100*r+j))
		}
	}
	cols := mat.NewDense(m*oh*ow, g.InC*g.KH*g.KW, nil)
	conv.Im2col(x, g, 1, m, pad, cols)
	for s := range m {
		for p := range oh {
			for q := range ow {
				for c := range g.InC {
					for ki := range g.KH {
						for kj := range g.KW {
							y, xx := p*g.Stride-g.Pad+ki, q*g.Stride-g.Pad+kj
							want := pad
							if y >= 0 && y < g.InH && xx >= 0 && xx < g.InW {
								want = x.At(1+s, c*g.InH*g.InW+y*g.InW+xx)
							}
							got := cols.At((s*oh+p)*ow+q, c*g.KH*g.KW+ki*g.KW+kj)
							if got != want {
								t.Fatalf("sample %d pos (%d,%d) c %d k (%d,%d): %v, want %v", s, p, q, c, ki, kj, got, want)
							}
						}
					}
				}
			}
		}
	}
}
