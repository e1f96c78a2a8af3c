package circuit

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/fhetune/fhetune/conv"
)

// The levelled operations on batches (rows = samples), shared by the float forward pass
// and the integer circuit. The integer circuit holds its integers in float64 matrices:
// products and sums of integers stay exact while every partial sum is below 2^53, which
// Compile checks, so gonum's GEMM computes exact integer dot products.

// im2colBudget bounds the size (in float64s) of the im2col matrix built at once.
const im2colBudget = 1 << 21

// convGeom is the shape of a convolution.
type convGeom struct{ OutC, InC, KH, KW, Stride, Pad, InH, InW int }

func (g convGeom) outHW() (int, int) {
	return (g.InH+2*g.Pad-g.KH)/g.Stride + 1, (g.InW+2*g.Pad-g.KW)/g.Stride + 1
}

func (g convGeom) inSize() int { return g.InC * g.InH * g.InW }
func (g convGeom) outSize() int {
	oh, ow := g.outHW()
	return g.OutC * oh * ow
}

// poolGeom is the shape of an average pooling.
type poolGeom struct{ K, Stride, C, InH, InW int }

func (g poolGeom) outHW() (int, int) { return (g.InH-g.K)/g.Stride + 1, (g.InW-g.K)/g.Stride + 1 }
func (g poolGeom) inSize() int       { return g.C * g.InH * g.InW }
func (g poolGeom) outSize() int {
	oh, ow := g.outHW()
	return g.C * oh * ow
}

// gemmNT computes c = a·bᵀ (c must not alias a or b).
func gemmNT(a, b, c *mat.Dense) {
	blas64.Gemm(blas.NoTrans, blas.Trans, 1, a.RawMatrix(), b.RawMatrix(), 0, c.RawMatrix())
}

// linearForward returns x·wᵀ + b, w being out×in.
func linearForward(x, w *mat.Dense, b []float64) *mat.Dense {
	n, _ := x.Dims()
	out, _ := w.Dims()
	y := mat.NewDense(n, out, nil)
	gemmNT(x, w, y)
	for i := 0; i < n; i++ {
		row := y.RawRowView(i)
		for j := range row {
			row[j] += b[j]
		}
	}
	return y
}

// convForward returns the convolution of each row of x with w (OutC × InC·KH·KW) plus
// one b per output channel; positions outside the image read pad.
func convForward(x *mat.Dense, g convGeom, w *mat.Dense, b []float64, pad float64) *mat.Dense {
	n, _ := x.Dims()
	oh, ow := g.outHW()
	pos, k := oh*ow, g.InC*g.KH*g.KW
	chunk := max(1, min(n, im2colBudget/(pos*k)))
	out := mat.NewDense(n, g.OutC*pos, nil)
	cols := mat.NewDense(min(chunk, n)*pos, k, nil)
	y2 := mat.NewDense(min(chunk, n)*pos, g.OutC, nil)
	for r0 := 0; r0 < n; r0 += chunk {
		m := min(chunk, n-r0)
		c := cols.Slice(0, m*pos, 0, k).(*mat.Dense)
		y := y2.Slice(0, m*pos, 0, g.OutC).(*mat.Dense)
		im2col(x, g, r0, m, pad, c)
		gemmNT(c, w, y)
		for s := 0; s < m; s++ {
			o := out.RawRowView(r0 + s)
			for p := 0; p < pos; p++ {
				for ch, v := range y.RawRowView(s*pos + p) {
					o[ch*pos+p] = v + b[ch]
				}
			}
		}
	}
	return out
}

// im2col fills cols ((m·OH·OW) × (InC·KH·KW)) with the windows of rows r0..r0+m−1 of x.
func im2col(x *mat.Dense, g convGeom, r0, m int, pad float64, cols *mat.Dense) {
	conv.Im2col(x, conv.Geom{InC: g.InC, InH: g.InH, InW: g.InW, KH: g.KH, KW: g.KW, Stride: g.Stride, Pad: g.Pad}, r0, m, pad, cols)
}

// poolForward returns factor times the K×K window sums of each channel of each row of x.
func poolForward(x *mat.Dense, g poolGeom, factor float64) *mat.Dense {
	n, _ := x.Dims()
	oh, ow := g.outHW()
	out := mat.NewDense(n, g.C*oh*ow, nil)
	plane := g.InH * g.InW
	for s := 0; s < n; s++ {
		xs, o := x.RawRowView(s), out.RawRowView(s)
		for c := 0; c < g.C; c++ {
			img := xs[c*plane : (c+1)*plane]
			for p := 0; p < oh; p++ {
				for q := 0; q < ow; q++ {
					sum := 0.0
					for i := 0; i < g.K; i++ {
						line := img[(p*g.Stride+i)*g.InW+q*g.Stride:]
						for j := 0; j < g.K; j++ {
							sum += line[j]
						}
					}
					o[(c*oh+p)*ow+q] = factor * sum
				}
			}
		}
	}
	return out
}
