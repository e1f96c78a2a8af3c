package model

import (
	"fmt"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/fhetune/fhetune/conv"
	"github.com/fhetune/fhetune/fhe/circuit"
)

// im2colBudget bounds the size (in float64s) of the im2col matrix that a forward pass
// builds at once; larger batches are processed in chunks of samples.
const im2colBudget = 1 << 21

// Conv2d is a 2-D convolution (cross-correlation, as in PyTorch) over [InC, InH, InW]
// samples with square stride, zero padding on all four sides, dilation D and G groups:
//
//	y[o][p][q] = B[o] + Σ_{c',i,j} W[o][c'·KH·KW + i·KW + j] · x[g·InC/G + c'][p·Stride − Pad + i·D][q·Stride − Pad + j·D]
//
// where g = o / (OutC/G) is the group of output channel o, c' runs over the InC/G input
// channels of that group, and x is zero outside the image. With G = 1 every output reads
// every input channel; with G = InC = OutC the convolution is depthwise. The output
// shape is [OutC, OH, OW] with OH = (InH + 2·Pad − (D·(KH − 1) + 1))/Stride + 1 and OW
// likewise. The forward and backward passes use im2col and one matrix product per group
// and batch.
type Conv2d struct {
	OutC, InC int // output and input channels
	KH, KW    int // kernel height and width
	Stride    int // step between windows, ≥ 1
	Pad       int // zero padding on each side, ≥ 0
	InH, InW  int // spatial size of the input, fixed when the network is built
	// Dilation is the spacing of the kernel's taps, ≥ 1; 0 means 1 (PyTorch's dilation).
	Dilation int
	// Groups is the number of channel groups G, ≥ 1, dividing InC and OutC; 0 means 1
	// (PyTorch's groups).
	Groups int
	// W holds the kernels, OutC × (InC/G·KH·KW), column c'·KH·KW + i·KW + j for channel
	// c' of the output channel's group: PyTorch's weight [OutC, InC/G, KH, KW] flattened.
	W *mat.Dense
	// B holds one bias per output channel.
	B []float64
	// Mask, when not nil, has one entry per weight of W in row-major order; false pins
	// that weight at zero during training.
	Mask []bool
	// Quant is as Linear's.
	Quant *circuit.WeightQuant
}

// NewConv2d returns a Conv2d layer with zero weights and biases for inputs of shape
// [inC, inH, inW], without dilation or groups.
func NewConv2d(outC, inC, kh, kw, stride, pad, inH, inW int) *Conv2d {
	return &Conv2d{
		OutC: outC, InC: inC, KH: kh, KW: kw, Stride: stride, Pad: pad, InH: inH, InW: inW,
		W: mat.NewDense(outC, inC*kh*kw, nil), B: make([]float64, outC),
	}
}

// Kind returns "conv2d".
func (l *Conv2d) Kind() string { return "conv2d" }

// Dil returns the dilation: Dilation, or 1 when it is 0.
func (l *Conv2d) Dil() int { return max(1, l.Dilation) }

// NumGroups returns the number of groups: Groups, or 1 when it is 0.
func (l *Conv2d) NumGroups() int { return max(1, l.Groups) }

// GroupInC returns the input channels each output channel reads, InC/G.
func (l *Conv2d) GroupInC() int { return l.InC / l.NumGroups() }

// geom returns the im2col geometry of group g.
func (l *Conv2d) geom(g int) conv.Geom {
	ic := l.GroupInC()
	return conv.Geom{InC: ic, InH: l.InH, InW: l.InW, KH: l.KH, KW: l.KW, Stride: l.Stride, Pad: l.Pad,
		Dilation: l.Dil(), C0: g * ic}
}

// OutHW returns the output's spatial size.
func (l *Conv2d) OutHW() (oh, ow int) { return l.geom(0).OutHW() }

// NumParams returns OutC·(InC/G)·KH·KW + OutC.
func (l *Conv2d) NumParams() int { return l.OutC*l.GroupInC()*l.KH*l.KW + l.OutC }

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
	if l.Dilation < 0 || l.Groups < 0 {
		return shapeErr("conv2d dilation %d, groups %d: must be ≥ 1 (0 means 1)", l.Dilation, l.Groups)
	}
	if g := l.NumGroups(); l.InC%g != 0 || l.OutC%g != 0 {
		return shapeErr("conv2d groups %d must divide the input channels %d and the output channels %d", g, l.InC, l.OutC)
	}
	eh, ew := l.geom(0).ExtentHW()
	if l.Pad >= eh || l.Pad >= ew {
		return shapeErr("conv2d padding %d must be smaller than the (dilated) kernel %dx%d", l.Pad, eh, ew)
	}
	if l.InH+2*l.Pad < eh || l.InW+2*l.Pad < ew {
		return shapeErr("conv2d kernel %dx%d (dilated %dx%d) does not fit the padded input %dx%d", l.KH, l.KW, eh, ew, l.InH+2*l.Pad, l.InW+2*l.Pad)
	}
	if l.W == nil {
		return shapeErr("no weight matrix")
	}
	k := l.GroupInC() * l.KH * l.KW
	if r, c := l.W.Dims(); r != l.OutC || c != k {
		return shapeErr("conv2d weights are %d×%d, want %d×%d", r, c, l.OutC, k)
	}
	return checkParams(l.W, l.B, l.Mask, l.OutC, l.OutC*k)
}

func (l *Conv2d) clone() Layer {
	c := *l
	c.W = mat.DenseCopyOf(l.W)
	c.B = slices.Clone(l.B)
	c.Mask = slices.Clone(l.Mask)
	c.Quant = l.Quant.Clone()
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
	pos, k := oh*ow, l.GroupInC()*l.KH*l.KW
	chunk := max(1, min(n, im2colBudget/(pos*k)))
	out := mat.NewDense(n, l.OutC*pos, nil)
	var cols, y2 *mat.Dense
	for r0 := 0; r0 < n; r0 += chunk {
		m := min(chunk, n-r0)
		cols = reuse(cols, m*pos, k)
		y2 = reuse(y2, m*pos, l.OutC)
		for g := range l.NumGroups() {
			conv.Im2col(x, l.geom(g), r0, m, 0, cols)
			gemm(false, true, 1, cols, l.groupW(l.W, g), 0, l.groupCols(y2, g))
		}
		l.scatterOut(y2, out, r0, m)
	}
	return out
}

// groupW returns the rows of w (OutC × InC/G·KH·KW) that belong to group g, as a view.
func (l *Conv2d) groupW(w *mat.Dense, g int) *mat.Dense {
	og := l.OutC / l.NumGroups()
	_, c := w.Dims()
	return w.Slice(g*og, (g+1)*og, 0, c).(*mat.Dense)
}

// groupCols returns the columns of y (one per output channel) that belong to group g,
// as a view.
func (l *Conv2d) groupCols(y *mat.Dense, g int) *mat.Dense {
	og := l.OutC / l.NumGroups()
	r, _ := y.Dims()
	return y.Slice(0, r, g*og, (g+1)*og).(*mat.Dense)
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

// conv2dState is the training state of a Conv2d layer; cols holds one im2col matrix per
// group.
type conv2dState struct {
	l              *Conv2d
	n              int
	cols           []*mat.Dense
	y2, out        *mat.Dense
	dy2, dcols, dx *mat.Dense
	dW             *mat.Dense
	dB             []float64
	wView, dWView  []float64
	in             *circuit.Quantizer // the input's quantizer, set before each forward
	il             *intLayer          // the last forward's integer form (quantized layers)
	scale          trainScale
}

func (l *Conv2d) newState() layerState {
	dW := mat.NewDense(l.OutC, l.GroupInC()*l.KH*l.KW, nil)
	return &conv2dState{l: l, cols: make([]*mat.Dense, l.NumGroups()), dW: dW, dB: make([]float64, l.OutC),
		wView: denseData(l.W), dWView: denseData(dW)}
}

func (s *conv2dState) setInput(in *circuit.Quantizer) { s.in = in }

func (s *conv2dState) forward(x *mat.Dense) *mat.Dense {
	l := s.l
	n, _ := x.Dims()
	if l.Quant != nil {
		s.n = n
		s.il = newIntLayer(l.W, l.B, *l.Quant, *s.in, s.scale.next(l.W, *l.Quant))
		s.out = l.applyInt(x, s.il, s.cols)
		return s.out
	}
	oh, ow := l.OutHW()
	pos, k := oh*ow, l.GroupInC()*l.KH*l.KW
	s.n = n
	s.y2 = reuse(s.y2, n*pos, l.OutC)
	s.out = reuse(s.out, n, l.OutC*pos)
	for g := range s.cols {
		s.cols[g] = reuse(s.cols[g], n*pos, k)
		conv.Im2col(x, l.geom(g), 0, n, 0, s.cols[g])
		gemm(false, true, 1, s.cols[g], l.groupW(l.W, g), 0, l.groupCols(s.y2, g))
	}
	l.scatterOut(s.y2, s.out, 0, n)
	return s.out
}

func (s *conv2dState) backward(dy *mat.Dense, needInput bool) *mat.Dense {
	l := s.l
	oh, ow := l.OutHW()
	pos, k := oh*ow, l.GroupInC()*l.KH*l.KW
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
	for g, cols := range s.cols {
		gemm(true, false, 1, l.groupCols(s.dy2, g), cols, 0, l.groupW(s.dW, g))
	}
	clear(s.dB)
	addColSums(s.dB, s.dy2)
	if !needInput {
		return nil
	}
	s.dcols = reuse(s.dcols, n*pos, k)
	s.dx = reuse(s.dx, n, l.InC*l.InH*l.InW)
	for i := 0; i < n; i++ {
		clear(s.dx.RawRowView(i))
	}
	w := l.W
	if l.Quant != nil {
		w = s.il.wf // straight through the weights' rounding
	}
	for g := range s.cols {
		gemm(false, false, 1, l.groupCols(s.dy2, g), l.groupW(w, g), 0, s.dcols)
		conv.Col2im(s.dcols, l.geom(g), n, s.dx)
	}
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

func (l *AvgPool2d) pool(x, out *mat.Dense) { l.sum(x, out, 1/float64(l.K*l.K)) }

// sum writes each window's sum times inv into out.
func (l *AvgPool2d) sum(x, out *mat.Dense, inv float64) {
	n, _ := x.Dims()
	oh, ow := l.OutHW()
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
	in      *circuit.Quantizer // the input's quantizer, set before each forward
}

func (s *avgPoolState) setInput(in *circuit.Quantizer) { s.in = in }

func (l *AvgPool2d) newState() layerState { return &avgPoolState{l: l} }

func (s *avgPoolState) forward(x *mat.Dense) *mat.Dense {
	l := s.l
	n, _ := x.Dims()
	oh, ow := l.OutHW()
	if s.in != nil {
		s.out = l.applyInt(x, *s.in)
		return s.out
	}
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

// MaxPool2d takes the maximum of each channel over K×K windows moved by Stride, without
// padding:
//
//	y[c][p][q] = max_{i,j<K} x[c][p·Stride + i][q·Stride + j]
//
// on [C, InH, InW] samples, giving [C, (InH−K)/Stride + 1, (InW−K)/Stride + 1] (PyTorch's
// MaxPool2d with padding 0, dilation 1 and ceil_mode off). The gradient flows to the
// arg max of each window, the first one in row-major window order on ties. An integer
// circuit computes it as a chain of comparisons, one table lookup each.
type MaxPool2d struct {
	K      int // window size
	Stride int // step between windows, ≥ 1
	// C, InH, InW are the input's shape, fixed when the network is built (C shrinks when
	// channels are pruned).
	C, InH, InW int
}

// Kind returns "maxpool2d".
func (l *MaxPool2d) Kind() string { return "maxpool2d" }

// OutHW returns the output's spatial size.
func (l *MaxPool2d) OutHW() (oh, ow int) {
	return (l.InH-l.K)/l.Stride + 1, (l.InW-l.K)/l.Stride + 1
}

// NumParams returns 0.
func (l *MaxPool2d) NumParams() int { return 0 }

// OutShape takes [C, InH, InW] and returns [C, OH, OW].
func (l *MaxPool2d) OutShape(in []int) ([]int, error) {
	if len(in) != 3 || in[0] != l.C || in[1] != l.InH || in[2] != l.InW {
		return nil, shapeErr("maxpool2d layer takes shape [%d %d %d], got %v", l.C, l.InH, l.InW, in)
	}
	oh, ow := l.OutHW()
	return []int{l.C, oh, ow}, nil
}

func (l *MaxPool2d) check() error {
	if l.K <= 0 || l.Stride <= 0 || l.C <= 0 || l.InH <= 0 || l.InW <= 0 {
		return shapeErr("maxpool2d k=%d stride=%d input=[%d %d %d]: sizes must be positive", l.K, l.Stride, l.C, l.InH, l.InW)
	}
	if l.K > l.InH || l.K > l.InW {
		return shapeErr("maxpool2d window %d does not fit the input %dx%d", l.K, l.InH, l.InW)
	}
	return nil
}

func (l *MaxPool2d) clone() Layer { c := *l; return &c }

// Forward returns the window maxima of each sample of x.
func (l *MaxPool2d) Forward(x *mat.Dense) *mat.Dense { return l.apply(x, false) }

func (l *MaxPool2d) apply(x *mat.Dense, _ bool) *mat.Dense {
	n, c := x.Dims()
	if c != l.C*l.InH*l.InW {
		panic(fmt.Sprintf("model: maxpool2d layer takes %d inputs, batch has %d columns", l.C*l.InH*l.InW, c))
	}
	oh, ow := l.OutHW()
	out := mat.NewDense(n, l.C*oh*ow, nil)
	l.pool(x, out, nil)
	return out
}

// pool writes the window maxima of x into out and, when arg is not nil, the input
// column of each maximum into arg (n·C·OH·OW entries, sample-major).
func (l *MaxPool2d) pool(x, out *mat.Dense, arg []int32) {
	n, _ := x.Dims()
	oh, ow := l.OutHW()
	plane, oplane := l.InH*l.InW, oh*ow
	for s := 0; s < n; s++ {
		xs, ys := x.RawRowView(s), out.RawRowView(s)
		for c := 0; c < l.C; c++ {
			for p := 0; p < oh; p++ {
				for q := 0; q < ow; q++ {
					best := c*plane + p*l.Stride*l.InW + q*l.Stride
					for i := 0; i < l.K; i++ {
						at := c*plane + (p*l.Stride+i)*l.InW + q*l.Stride
						for j := 0; j < l.K; j++ {
							if xs[at+j] > xs[best] {
								best = at + j
							}
						}
					}
					o := c*oplane + p*ow + q
					ys[o] = xs[best]
					if arg != nil {
						arg[s*l.C*oplane+o] = int32(best)
					}
				}
			}
		}
	}
}

type maxPoolState struct {
	l       *MaxPool2d
	n       int
	arg     []int32
	out, dx *mat.Dense
}

func (l *MaxPool2d) newState() layerState { return &maxPoolState{l: l} }

func (s *maxPoolState) forward(x *mat.Dense) *mat.Dense {
	l := s.l
	n, _ := x.Dims()
	oh, ow := l.OutHW()
	s.n = n
	s.out = reuse(s.out, n, l.C*oh*ow)
	if need := n * l.C * oh * ow; cap(s.arg) >= need {
		s.arg = s.arg[:need]
	} else {
		s.arg = make([]int32, need)
	}
	l.pool(x, s.out, s.arg)
	return s.out
}

func (s *maxPoolState) backward(dy *mat.Dense, needInput bool) *mat.Dense {
	if !needInput {
		return nil
	}
	l := s.l
	_, no := dy.Dims()
	s.dx = reuse(s.dx, s.n, l.C*l.InH*l.InW)
	for i := 0; i < s.n; i++ {
		g, d := dy.RawRowView(i), s.dx.RawRowView(i)
		clear(d)
		for o, v := range g {
			d[s.arg[i*no+o]] += v
		}
	}
	return s.dx
}

func (s *maxPoolState) params() []param { return nil }
