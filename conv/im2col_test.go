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

// TestIm2colDilatedGroup checks a dilated window that reads channels 1..2 of a 4-channel
// input against its definition, and that Col2im is Im2col's adjoint: Σ cols⊙R equals
// Σ x⊙Col2im(R) for any R, with nothing added outside the window's channels.
func TestIm2colDilatedGroup(t *testing.T) {
	g := conv.Geom{InC: 2, InH: 7, InW: 6, KH: 3, KW: 2, Stride: 2, Pad: 1, Dilation: 2, C0: 1}
	oh, ow := g.OutHW()
	// Extents 2·2+1 = 5 and 2·1+1 = 3: (7+2−5)/2+1 = 3, (6+2−3)/2+1 = 3.
	if oh != 3 || ow != 3 {
		t.Fatalf("OutHW = %d, %d; want 3, 3", oh, ow)
	}
	if eh, ew := g.ExtentHW(); eh != 5 || ew != 3 {
		t.Fatalf("ExtentHW = %d, %d; want 5, 3", eh, ew)
	}
	const m, pad, totalC = 2, -3.0, 4
	plane := g.InH * g.InW
	x := mat.NewDense(m, totalC*plane, nil)
	for r := range m {
		for j := range totalC * plane {
			x.Set(r, j, float64(1000*r+j))
		}
	}
	cols := mat.NewDense(m*oh*ow, g.InC*g.KH*g.KW, nil)
	conv.Im2col(x, g, 0, m, pad, cols)
	for s := range m {
		for p := range oh {
			for q := range ow {
				for c := range g.InC {
					for ki := range g.KH {
						for kj := range g.KW {
							y, xx := p*g.Stride-g.Pad+ki*g.Dilation, q*g.Stride-g.Pad+kj*g.Dilation
							want := pad
							if y >= 0 && y < g.InH && xx >= 0 && xx < g.InW {
								want = x.At(s, (g.C0+c)*plane+y*g.InW+xx)
							}
							if got := cols.At((s*oh+p)*ow+q, c*g.KH*g.KW+ki*g.KW+kj); got != want {
								t.Fatalf("sample %d pos (%d,%d) c %d k (%d,%d): %v, want %v", s, p, q, c, ki, kj, got, want)
							}
						}
					}
				}
			}
		}
	}

	// Adjoint: with zero padding, <Im2col(x), R> = <x, Col2im(R)>.
	zero := mat.NewDense(m*oh*ow, g.InC*g.KH*g.KW, nil)
	conv.Im2col(x, g, 0, m, 0, zero)
	r := mat.NewDense(m*oh*ow, g.InC*g.KH*g.KW, nil)
	for i := range r.RawMatrix().Data {
		r.RawMatrix().Data[i] = float64(i%7) - 3
	}
	dx := mat.NewDense(m, totalC*plane, nil)
	conv.Col2im(r, g, m, dx)
	lhs, rhs := mat.Sum(mulElem(zero, r)), mat.Sum(mulElem(x, dx))
	if lhs != rhs {
		t.Errorf("<Im2col(x), R> = %v, <x, Col2im(R)> = %v", lhs, rhs)
	}
	for s := range m {
		for j := range totalC * plane {
			if c := j / plane; (c < g.C0 || c >= g.C0+g.InC) && dx.At(s, j) != 0 {
				t.Fatalf("Col2im wrote channel %d outside the window's channels", c)
			}
		}
	}
}

// TestGeomZeroDilation checks that Dilation 0 reads like Dilation 1.
func TestGeomZeroDilation(t *testing.T) {
	g0 := conv.Geom{InC: 1, InH: 5, InW: 5, KH: 3, KW: 3, Stride: 1, Pad: 1}
	g1 := g0
	g1.Dilation = 1
	x := mat.NewDense(1, 25, nil)
	for j := range 25 {
		x.Set(0, j, float64(j))
	}
	a, b := mat.NewDense(25, 9, nil), mat.NewDense(25, 9, nil)
	conv.Im2col(x, g0, 0, 1, 0, a)
	conv.Im2col(x, g1, 0, 1, 0, b)
	if !mat.Equal(a, b) {
		t.Error("Dilation 0 and 1 differ")
	}
}

func mulElem(a, b *mat.Dense) *mat.Dense {
	var c mat.Dense
	c.MulElem(a, b)
	return &c
}
