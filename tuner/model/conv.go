package model

import (
	"fmt"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/fhetune/fhetune/conv"
)

// im2colBudget bounds the size (in float64s) of the im2col matrix that a forward pass
// builds at once; larger batches are processed in chunks of samples.
const im2colBudget = 1 << 21

// Conv2d is a 2-D convolution (cross-correlation, as in PyTorch) over [InC, InH, InW]
// samples with square stride and zero padding on all four sides:
//
//	y[o][p][q] = B[o] + Σ_{c,i,j} W[o][c·KH·KW + i·KW + j] · x[c][p·Stride − Pad + i][q·Stride − Pad + j]
//
// where x is zero outside the image. The output shape is [OutC, OH, OW] with
// OH = (InH + 2·Pad − KH)/Stride + 1 and OW likewise. The forward and backward passes use
// im2col and one matrix product per batch.
type Conv2d struct {
	OutC, InC int // output and input channels
	KH, KW    int // kernel height and width
	Stride    int // step between windows, ≥ 1
	Pad       int // zero padding on each side, ≥ 0
	InH, InW  int // spatial size of the input, fixed when the network is built
	// W holds the kernels, OutC × (InC·KH·KW), column c·KH·KW + i·KW + j.
	W *mat.Dense
	// B holds one bias per output channel.
	B []float64
	// Mask, when not nil, has one entry per weight of W in row-major order; false pins
	// that weight at zero during training.
	Mask []bool
}

// NewConv2d returns a Conv2d layer with zero weights and biases for inputs of shape
// [inC, inH, inW].
func NewConv2d(outC, inC, kh, kw, stride, pad, inH, inW int) *Conv2d {
	return &Conv2d{
		OutC: outC, InC: inC, KH: kh, KW: kw, Stride: stride, Pad: pad, InH: inH, InW: inW,
		W: mat.NewDense(outC, inC*kh*kw, nil), B: make([]float64, outC),
	}
}

// Kind returns "conv2d".
func (l *Conv2d) Kind() string { return "conv2d" }

// OutHW returns the output's spatial size.
func (l *Conv2d) OutHW() (oh, ow int) {
	return (l.InH+2*l.Pad-l.KH)/l.Stride + 1, (l.InW+2*l.Pad-l.KW)/l.Stride + 1
}

// NumParams returns OutC·InC·KH·KW + OutC.
func (l *Conv2d) NumParams() int { return l.OutC*l.InC*l.KH*l.KW + l.OutC }

// OutShape takes [InC, InH, InW] and returns [OutC, OH, OW].
func (l *Conv2d) OutShape(in []int) ([]int, error) {
	if len(in) != 3 || in[0] != l.InC || in[1] != l.InH || in[2] != l.InW {
		return nil, shapeErr("conv2d layer takes shape [%d %d %d], got %v", l.InC, l.InH, l.InW, in)
	}
	oh, ow := l.OutHW()
	return []int{l.OutC, oh, ow}, nil
}

func (l *Conv2d) check() error {
	if l.OutC <= 0 || l.InC <= 0 || l.KH <= 0 || l.KW <= 0 || l.Stride <= 0 || l.Pad < 0 || l.InH <= 0 || l.InW <= 0 {
		return shapeErr("conv2d out=%d in=%d kernel=%dx%d stride=%d pad=%d input=%dx%d: sizes must be positive (pad ≥ 0)",
			l.OutC, l.InC, l.KH, l.KW, l.Stride, l.Pad, l.InH, l.InW)
	}
	if l.Pad >= l.KH || l.Pad >= l.KW {
		return shapeErr("conv2d padding %d must be smaller than the kernel %dx%d", l.Pad, l.KH, l.KW)
	}
	if l.InH+2*l.Pad < l.KH || l.InW+2*l.Pad < l.KW {
		return shapeErr("conv2d kernel %dx%d does not fit the padded input %dx%d", l.KH, l.KW, l.InH+2*l.Pad, l.InW+2*l.Pad)
	}
	if l.W == nil {
		return shapeErr("no weight matrix")
	}
	if r, c := l.W.Dims(); r != l.OutC || c != l.InC*l.KH*l.KW {
		return shapeErr("conv2d weights are %d×%d, want %d×%d", r, c, l.OutC, l.InC*l.KH*l.KW)
	}
	return checkParams(l.W, l.B, l.Mask, l.OutC, l.OutC*l.InC*l.KH*l.KW)
}

func (l *Conv2d) clone() Layer {
	c := *l
	c.W = mat.DenseCopyOf(l.W)
	c.B = slices.Clone(l.B)
	c.Mask = slices.Clone(l.Mask)
	return &c
}

// Forward returns the convolution of each sample of x.
func (l *Conv2d) Forward(x *mat.Dense) *mat.Dense { return l.apply(x, false) }

func (l *Conv2d) apply(x *mat.Dense, _ bool) *mat.Dense {
	n, c := x.Dims()
	if c != l.InC*l.InH*l.InW {
		panic(fmt.Sprintf("model: conv2d layer takes %d inputs, batch has %d columns", l.InC*l.InH*l.InW, c))
	}
	oh, ow := l.OutHW()
	pos, k := oh*ow, l.InC*l.KH*l.KW
	chunk := max(1, min(n, im2colBudget/(pos*k)))
	out := mat.NewDense(n, l.OutC*pos, nil)
	var cols, y2 *mat.Dense
	for r0 := 0; r0 < n; r0 += chunk {
		m := min(chunk, n-r0)
		cols = reuse(cols, m*pos, k)
		y2 = reuse(y2, m*pos, l.OutC)
		l.im2col(x, r0, m, cols)
		gemm(false, true, 1, cols, l.W, 0, y2)
		l.scatterOut(y2, out, r0, m)
	}
	return out
}

// im2col fills cols ((m·OH·OW) × (InC·KH·KW)) with the windows of samples r0..r0+m−1.
func (l *Conv2d) im2col(x *mat.Dense, r0, m int, cols *mat.Dense) {
	conv.Im2col(x, conv.Geom{InC: l.InC, InH: l.InH, InW: l.InW, KH: l.KH, KW: l.KW, Stride: l.Stride, Pad: l.Pad}, r0, m, 0, cols)
}

// col2im adds the window gradients dcols back into dx rows 0..m−1 (dx is zeroed first).
func (l *Conv2d) col2im(dcols *mat.Dense, m int, dx *mat.Dense) {
	oh, ow := l.OutHW()
	plane := l.InH * l.InW
	for s := 0; s < m; s++ {
		xs := dx.RawRowView(s)
		clear(xs)
		for p := 0; p < oh; p++ {
			for q := 0; q < ow; q++ {
				row := dcols.RawRowView((s*oh+p)*ow + q)
				i := 0
				for c := 0; c < l.InC; c++ {
					img := xs[c*plane : (c+1)*plane]
					for ki := 0; ki < l.KH; ki++ {
						y := p*l.Stride - l.Pad + ki
						if y < 0 || y >= l.InH {
							i += l.KW
							continue
						}
						line := img[y*l.InW : (y+1)*l.InW]
						for kj := 0; kj < l.KW; kj++ {
							xx := q*l.Stride - l.Pad + kj
							if xx >= 0 && xx < l.InW {
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

// scatterOut writes y2 ((m·OH·OW) × OutC, one row per window) plus the biases into rows
// r0..r0+m−1 of out in channel-major order.
func (l *Conv2d) scatterOut(y2, out *mat.Dense, r0, m int) {
	oh, ow := l.OutHW()
	pos := oh * ow
	for s := 0; s < m; s++ {
		o := out.RawRowView(r0 + s)
		for p := 0; p < pos; p++ {
			yr := y2.RawRowView(s*pos + p)
			for c, v := range yr {
				o[c*pos+p] = v + l.B[c]
			}
		}
	}
}

// conv2dState is the training state of a Conv2d layer.
type conv2dState struct {
	l              *Conv2d
	n              int
	cols, y2, out  *mat.Dense
	dy2, dcols, dx *mat.Dense
	dW             *mat.Dense
	dB             []float64
	wView, dWView  []float64
}

func (l *Conv2d) newState() layerState {
	dW := mat.NewDense(l.OutC, l.InC*l.KH*l.KW, nil)
	return &conv2dState{l: l, dW: dW, dB: make([]float64, l.OutC), wView: denseData(l.W), dWView: denseData(dW)}
}

func (s *conv2dState) forward(x *mat.Dense) *mat.Dense {
	l := s.l
	n, _ := x.Dims()
	oh, ow := l.OutHW()
	pos, k := oh*ow, l.InC*l.KH*l.KW
	s.n = n
	s.cols = reuse(s.cols, n*pos, k)
	s.y2 = reuse(s.y2, n*pos, l.OutC)
	s.out = reuse(s.out, n, l.OutC*pos)
	l.im2col(x, 0, n, s.cols)
	gemm(false, true, 1, s.cols, l.W, 0, s.y2)
	l.scatterOut(s.y2, s.out, 0, n)
	return s.out
}

func (s *conv2dState) backward(dy *mat.Dense, needInput bool) *mat.Dense {
	l := s.l
	oh, ow := l.OutHW()
	pos, k := oh*ow, l.InC*l.KH*l.KW
	n := s.n
	// Gather dy (channel-major per sample) into one row per window.
	s.dy2 = reuse(s.dy2, n*pos, l.OutC)
	for i := 0; i < n; i++ {
		g := dy.RawRowView(i)
		for p := 0; p < pos; p++ {
			r := s.dy2.RawRowView(i*pos + p)
			for c := range r {
				r[c] = g[c*pos+p]
			}
		}
	}
	gemm(true, false, 1, s.dy2, s.cols, 0, s.dW)
	clear(s.dB)
	addColSums(s.dB, s.dy2)
	if !needInput {
		return nil
	}
	s.dcols = reuse(s.dcols, n*pos, k)
	gemm(false, false, 1, s.dy2, l.W, 0, s.dcols)
	s.dx = reuse(s.dx, n, l.InC*l.InH*l.InW)
	l.col2im(s.dcols, n, s.dx)
	return s.dx
}

func (s *conv2dState) params() []param {
	return []param{{val: s.wView, grad: s.dWView, mask: s.l.Mask, weight: true}, {val: s.l.B, grad: s.dB}}
}

// AvgPool2d averages each channel over K×K windows moved by Stride, without padding:
//
//	y[c][p][q] = (1/K²) Σ_{i,j<K} x[c][p·Stride + i][q·Stride + j]
//
// on [C, InH, InW] samples, giving [C, (InH−K)/Stride + 1, (InW−K)/Stride + 1]. It is
// linear: an integer circuit computes the window sum and folds 1/K² into the next scale.
type AvgPool2d struct {
	K      int // window size
	Stride int // step between windows, ≥ 1
	// C, InH, InW are the input's shape, fixed when the network is built (C shrinks when
	// channels are pruned).
	C, InH, InW int
}

// Kind returns "avgpool2d".
func (l *AvgPool2d) Kind() string { return "avgpool2d" }

// OutHW returns the output's spatial size.
func (l *AvgPool2d) OutHW() (oh, ow int) {
	return (l.InH-l.K)/l.Stride + 1, (l.InW-l.K)/l.Stride + 1
}

// NumParams returns 0.
func (l *AvgPool2d) NumParams() int { return 0 }

// OutShape takes [C, InH, InW] and returns [C, OH, OW].
func (l *AvgPool2d) OutShape(in []int) ([]int, error) {
	if len(in) != 3 || in[0] != l.C || in[1] != l.InH || in[2] != l.InW {
		return nil, shapeErr("avgpool2d layer takes shape [%d %d %d], got %v", l.C, l.InH, l.InW, in)
	}
	oh, ow := l.OutHW()
	return []int{l.C, oh, ow}, nil
}

func (l *AvgPool2d) check() error {
	if l.K <= 0 || l.Stride <= 0 || l.C <= 0 || l.InH <= 0 || l.InW <= 0 {
		return shapeErr("avgpool2d k=%d stride=%d input=[%d %d %d]: sizes must be positive", l.K, l.Stride, l.C, l.InH, l.InW)
	}
	if l.K > l.InH || l.K > l.InW {
		return shapeErr("avgpool2d window %d does not fit the input %dx%d", l.K, l.InH, l.InW)
	}
	return nil
}

func (l *AvgPool2d) clone() Layer { c := *l; return &c }

// Forward returns the window averages of each sample of x.
func (l *AvgPool2d) Forward(x *mat.Dense) *mat.Dense { return l.apply(x, false) }

func (l *AvgPool2d) apply(x *mat.Dense, _ bool) *mat.Dense {
	n, c := x.Dims()
	if c != l.C*l.InH*l.InW {
		panic(fmt.Sprintf("model: avgpool2d layer takes %d inputs, batch has %d columns", l.C*l.InH*l.InW, c))
	}
	oh, ow := l.OutHW()
	out := mat.NewDense(n, l.C*oh*ow, nil)
	l.pool(x, out)
	return out
}

func (l *AvgPool2d) pool(x, out *mat.Dense) {
	n, _ := x.Dims()
	oh, ow := l.OutHW()
	inv := 1 / float64(l.K*l.K)
	plane, oplane := l.InH*l.InW, oh*ow
	for s := 0; s < n; s++ {
		xs, ys := x.RawRowView(s), out.RawRowView(s)
		for c := 0; c < l.C; c++ {
			img, o := xs[c*plane:(c+1)*plane], ys[c*oplane:(c+1)*oplane]
			for p := 0; p < oh; p++ {
				for q := 0; q < ow; q++ {
					sum := 0.0
					for i := 0; i < l.K; i++ {
						line := img[(p*l.Stride+i)*l.InW+q*l.Stride:]
						for j := 0; j < l.K; j++ {
							sum += line[j]
						}
					}
					o[p*ow+q] = sum * inv
				}
			}
		}
	}
}

type avgPoolState struct {
	l       *AvgPool2d
	out, dx *mat.Dense
}

func (l *AvgPool2d) newState() layerState { return &avgPoolState{l: l} }

func (s *avgPoolState) forward(x *mat.Dense) *mat.Dense {
	l := s.l
	n, _ := x.Dims()
	oh, ow := l.OutHW()
	s.out = reuse(s.out, n, l.C*oh*ow)
	l.pool(x, s.out)
	return s.out
}

func (s *avgPoolState) backward(dy *mat.Dense, needInput bool) *mat.Dense {
	if !needInput {
		return nil
	}
	l := s.l
	n, _ := dy.Dims()
	oh, ow := l.OutHW()
	inv := 1 / float64(l.K*l.K)
	plane, oplane := l.InH*l.InW, oh*ow
	s.dx = reuse(s.dx, n, l.C*plane)
	for i := 0; i < n; i++ {
		g, d := dy.RawRowView(i), s.dx.RawRowView(i)
		clear(d)
		for c := 0; c < l.C; c++ {
			img, gc := d[c*plane:(c+1)*plane], g[c*oplane:(c+1)*oplane]
			for p := 0; p < oh; p++ {
				for q := 0; q < ow; q++ {
					v := gc[p*ow+q] * inv
					for a := 0; a < l.K; a++ {
						line := img[(p*l.Stride+a)*l.InW+q*l.Stride:]
						for b := 0; b < l.K; b++ {
							line[b] += v
						}
					}
				}
			}
		}
	}
	return s.dx
}

func (s *avgPoolState) params() []param { return nil }
