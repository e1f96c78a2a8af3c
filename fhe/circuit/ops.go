package circuit

import (
	"math"

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

// convGeom is the shape of a convolution; Dilation and Groups are at least 1.
type convGeom struct{ OutC, InC, KH, KW, Stride, Pad, InH, InW, Dilation, Groups int }

// im2col returns the im2col geometry of group g: its InC/G channels from channel g·InC/G.
func (g convGeom) im2col(group int) conv.Geom {
	ic := g.groupIn()
	return conv.Geom{InC: ic, InH: g.InH, InW: g.InW, KH: g.KH, KW: g.KW, Stride: g.Stride, Pad: g.Pad,
		Dilation: g.Dilation, C0: group * ic}
}

// groupIn returns the input channels of one group, InC/G; groupOut the output
// channels, OutC/G.
func (g convGeom) groupIn() int  { return g.InC / g.Groups }
func (g convGeom) groupOut() int { return g.OutC / g.Groups }

// extent returns the dilated kernel's span on each axis.
func (g convGeom) extent() (int, int) { return g.im2col(0).ExtentHW() }

func (g convGeom) outHW() (int, int) { return g.im2col(0).OutHW() }

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

// convForward returns the convolution of each row of x with w (OutC × (InC/G)·KH·KW)
// plus one b per output channel, group by group; positions outside the image read pad.
func convForward(x *mat.Dense, g convGeom, w *mat.Dense, b []float64, pad float64) *mat.Dense {
	n, _ := x.Dims()
	oh, ow := g.outHW()
	pos, k, og := oh*ow, g.groupIn()*g.KH*g.KW, g.groupOut()
	chunk := max(1, min(n, im2colBudget/(pos*k)))
	out := mat.NewDense(n, g.OutC*pos, nil)
	cols := mat.NewDense(min(chunk, n)*pos, k, nil)
	y2 := mat.NewDense(min(chunk, n)*pos, g.OutC, nil)
	for r0 := 0; r0 < n; r0 += chunk {
		m := min(chunk, n-r0)
		c := cols.Slice(0, m*pos, 0, k).(*mat.Dense)
		for grp := range g.Groups {
			conv.Im2col(x, g.im2col(grp), r0, m, pad, c)
			gemmNT(c, w.Slice(grp*og, (grp+1)*og, 0, k).(*mat.Dense), y2.Slice(0, m*pos, grp*og, (grp+1)*og).(*mat.Dense))
		}
		y := y2.Slice(0, m*pos, 0, g.OutC).(*mat.Dense)
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

// maxPoolForward returns the K×K window maxima of each channel of each row of x (the
// float network's max pool).
func maxPoolForward(x *mat.Dense, g poolGeom) *mat.Dense {
	n, _ := x.Dims()
	wins := g.windows()
	out := mat.NewDense(n, len(wins), nil)
	for s := 0; s < n; s++ {
		xs, o := x.RawRowView(s), out.RawRowView(s)
		for j, win := range wins {
			m := math.Inf(-1)
			for _, at := range win {
				m = max(m, xs[at])
			}
			o[j] = m
		}
	}
	return out
}

// windows returns the window of every output (see window).
func (g poolGeom) windows() [][]int {
	out := make([][]int, g.outSize())
	for j := range out {
		out[j] = g.window(j)
	}
	return out
}

// window returns the input indices of output j's K×K window in row-major window order:
// the order of a max pool's comparisons.
func (g poolGeom) window(j int) []int {
	oh, ow := g.outHW()
	ch, pos := j/(oh*ow), j%(oh*ow)
	p, q := pos/ow, pos%ow
	out := make([]int, 0, g.K*g.K)
	for a := 0; a < g.K; a++ {
		for b := 0; b < g.K; b++ {
			out = append(out, (ch*g.InH+p*g.Stride+a)*g.InW+q*g.Stride+b)
		}
	}
	return out
}
