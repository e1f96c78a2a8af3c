package onnx

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/fhetune/fhetune/tuner/model"
	"github.com/fhetune/fhetune/tuner/onnx/onnxpb"
)

// supportedOps lists the op types the reader takes, for error messages.
const supportedOps = "Gemm, MatMul, Conv, BatchNormalization, Add, Sub, Mul, Div (by constants), Relu, LeakyRelu, Sigmoid, Tanh, " +
	"GELU (erf form), AveragePool, GlobalAveragePool, MaxPool, Flatten, Reshape and Transpose (as a flatten), Softmax and " +
	"LogSoftmax (at the output), Dropout, Identity, Pad (zero pads), Constant, Shape, Gather, Unsqueeze, Squeeze, Concat, Cast"

// affine is an element-wise map y = a·x + c over one sample (one entry per element).
type affine struct{ a, c []float64 }

// builder walks a graph's nodes in order and builds the network layer by layer. The
// value the next layer reads is cur, of per-sample shape shape; pend is an element-wise
// affine map on cur not folded into a layer yet; open says the last layer is a Linear or
// Conv2d with nothing after it, so that affine maps fold into it.
type builder struct {
	file   string
	opset  int
	g      *onnxpb.GraphProto
	consts map[string]*tensor
	uses   map[string][]int
	done   []bool

	net   *model.Network
	cur   string
	shape []int
	pend  *affine
	open  bool
	final bool // a Softmax ended the chain
}

func newBuilder(g *onnxpb.GraphProto, file string, opset int) (*builder, error) {
	b := &builder{file: file, opset: opset, g: g, consts: map[string]*tensor{}, uses: map[string][]int{},
		done: make([]bool, len(g.GetNode())), net: &model.Network{}}
	for _, t := range g.GetInitializer() {
		v, err := readTensor(t)
		if err != nil {
			return nil, &Error{File: file, Offset: -1, Why: "initializer: " + err.Error(), Err: ErrFormat}
		}
		b.consts[t.GetName()] = v
	}
	for i, n := range g.GetNode() {
		for _, in := range n.GetInput() {
			b.uses[in] = append(b.uses[in], i)
		}
		// Constants have no inputs: evaluate them first, so that patterns spanning
		// several nodes (GELU) can read constants defined after their first node.
		if n.GetOpType() == "Constant" && (n.GetDomain() == "" || n.GetDomain() == "ai.onnx") {
			if err := b.constant(n); err != nil {
				var e *Error
				if errors.As(err, &e) {
					e.File = file
				}
				return nil, err
			}
			b.done[i] = true
		}
	}
	return b, nil
}

// fail returns an error at node n.
func (b *builder) fail(n *onnxpb.NodeProto, err error, format string, args ...any) error {
	return &Error{File: b.file, Node: n.GetName(), OpType: n.GetOpType(), Offset: -1, Why: fmt.Sprintf(format, args...), Err: err}
}

func (b *builder) build() (*model.Network, error) {
	if err := b.input(); err != nil {
		return nil, err
	}
	for i, n := range b.g.GetNode() {
		if b.done[i] {
			continue
		}
		b.done[i] = true
		if err := b.node(i, n); err != nil {
			var e *Error
			if errors.As(err, &e) && e.File == "" {
				e.File = b.file
			}
			return nil, err
		}
	}
	return b.finish()
}

// input reads the graph's one non-constant input: [batch, features] or [batch, C, H, W].
func (b *builder) input() error {
	var ins []*onnxpb.ValueInfoProto
	for _, in := range b.g.GetInput() {
		if _, ok := b.consts[in.GetName()]; !ok {
			ins = append(ins, in)
		}
	}
	if len(ins) != 1 {
		return &Error{File: b.file, Offset: -1, Err: ErrUnsupported, Why: fmt.Sprintf("%d graph inputs besides the weights; one is supported", len(ins))}
	}
	in := ins[0]
	tt := in.GetType().GetTensorType()
	if tt == nil || (tt.GetElemType() != int32(onnxpb.TensorProto_FLOAT) && tt.GetElemType() != int32(onnxpb.TensorProto_DOUBLE)) {
		return &Error{File: b.file, Offset: -1, Err: ErrUnsupported, Why: fmt.Sprintf("input %q is not a float tensor", in.GetName())}
	}
	dims := tt.GetShape().GetDim()
	if len(dims) != 2 && len(dims) != 4 {
		return &Error{File: b.file, Offset: -1, Err: ErrUnsupported,
			Why: fmt.Sprintf("input %q has %d dimensions; [batch, features] and [batch, C, H, W] are supported", in.GetName(), len(dims))}
	}
	for _, d := range dims[1:] {
		v := d.GetDimValue()
		if v <= 0 || v > maxTensorElems {
			return &Error{File: b.file, Offset: -1, Err: ErrUnsupported,
				Why: fmt.Sprintf("input %q: dimension %q is not a fixed positive size (only the batch may vary)", in.GetName(), d.String())}
		}
		b.shape = append(b.shape, int(v))
	}
	if !smallShape(b.shape) {
		return &Error{File: b.file, Offset: -1, Err: ErrUnsupported,
			Why: fmt.Sprintf("input %q of shape %v: more than %d values per sample", in.GetName(), b.shape, maxSampleElems)}
	}
	b.cur = in.GetName()
	b.net.InShape = slices.Clone(b.shape)
	return nil
}

// maxSampleElems bounds the values of one sample at any layer (16 Mi), so that a
// hostile shape cannot make the reader allocate without bound.
const maxSampleElems = 1 << 24

// smallShape says whether a sample of shape s has at most maxSampleElems values
// (without overflowing on the way).
func smallShape(s []int) bool {
	n := 1
	for _, d := range s {
		if d < 1 || d > maxSampleElems || n*d > maxSampleElems {
			return false
		}
		n *= d
	}
	return true
}

// finish checks that the chain ends at the graph's output, folds what is left and
// validates the network.
func (b *builder) finish() (*model.Network, error) {
	outs := b.g.GetOutput()
	if len(outs) != 1 {
		return nil, &Error{File: b.file, Offset: -1, Err: ErrUnsupported, Why: fmt.Sprintf("%d graph outputs; one (the logits) is supported", len(outs))}
	}
	if outs[0].GetName() != b.cur {
		return nil, &Error{File: b.file, Offset: -1, Err: ErrUnsupported,
			Why: fmt.Sprintf("the output %q is not the end of the chain of layers (%q): branching graphs are not supported", outs[0].GetName(), b.cur)}
	}
	if b.pend != nil {
		return nil, &Error{File: b.file, Offset: -1, Err: ErrUnsupported,
			Why: "the output is an element-wise affine map of a nonlinearity, which no layer can absorb"}
	}
	if len(b.shape) != 1 || b.shape[0] < 2 {
		return nil, &Error{File: b.file, Offset: -1, Err: ErrUnsupported, Why: fmt.Sprintf("output of shape %v; a vector of at least 2 logits is supported", b.shape)}
	}
	b.net.Classes = b.shape[0]
	if err := b.net.Validate(); err != nil {
		return nil, &Error{File: b.file, Offset: -1, Err: ErrUnsupported, Why: err.Error()}
	}
	return b.net, nil
}

// node handles node i.
func (b *builder) node(i int, n *onnxpb.NodeProto) error {
	if d := n.GetDomain(); d != "" && d != "ai.onnx" {
		return b.fail(n, ErrUnsupported, "operator of domain %q; only the default ONNX domain is supported", d)
	}
	if b.final {
		return b.fail(n, ErrUnsupported, "a node after the output Softmax")
	}
	ins := n.GetInput()
	usesCur := slices.Contains(ins, b.cur)
	switch op := n.GetOpType(); op {
	case "Constant":
		return b.constant(n)
	case "Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Cast":
		if op == "Cast" && usesCur {
			return b.alias(n)
		}
		return b.shapeOp(n)
	case "Identity", "Dropout":
		if !usesCur {
			if t, ok := b.consts[ins[0]]; ok && len(n.GetOutput()) > 0 {
				b.consts[n.GetOutput()[0]] = t
				return nil
			}
		}
		return b.alias(n)
	}
	if !usesCur || len(n.GetOutput()) == 0 {
		return b.fail(n, ErrUnsupported, "it does not read the output of the layer before it (%q): only chains of layers are supported", b.cur)
	}
	if ins[0] != b.cur && !slices.Contains([]string{"Add", "Sub", "Mul", "Div"}, n.GetOpType()) {
		return b.fail(n, ErrUnsupported, "the layer's value %q must be its first input", b.cur)
	}
	switch n.GetOpType() {
	case "Gemm":
		return b.gemm(n)
	case "MatMul":
		return b.matmul(n)
	case "Conv":
		return b.conv(n)
	case "BatchNormalization":
		return b.batchNorm(n)
	case "Add", "Sub", "Mul", "Div":
		if ok, err := b.gelu(i, n); ok || err != nil {
			return err
		}
		return b.arith(n)
	case "Relu":
		return b.activation(n, model.ReLU{})
	case "LeakyRelu":
		return b.activation(n, model.Activation{Func: model.LeakyReLU, Alpha: float64(attrFloat(n, "alpha", 0.01))})
	case "Sigmoid":
		return b.activation(n, model.Activation{Func: model.Sigmoid})
	case "Tanh":
		return b.activation(n, model.Activation{Func: model.Tanh})
	case "AveragePool", "MaxPool", "GlobalAveragePool":
		return b.pool(n)
	case "Flatten":
		if axis := attrInt(n, "axis", 1); axis != 1 {
			return b.fail(n, ErrUnsupported, "Flatten with axis %d; axis 1 (keep the batch) is supported", axis)
		}
		return b.flatten(n)
	case "Reshape":
		return b.reshape(n)
	case "Transpose":
		return b.transpose(n)
	case "Pad":
		return b.pad(n)
	case "Softmax", "LogSoftmax":
		return b.softmax(n)
	default:
		return b.fail(n, ErrUnsupported, "operator %s is not supported; supported: %s", n.GetOpType(), supportedOps)
	}
}

// alias makes the node's first output the chain's value (a node that changes nothing).
func (b *builder) alias(n *onnxpb.NodeProto) error {
	if len(n.GetInput()) == 0 || n.GetInput()[0] != b.cur || len(n.GetOutput()) == 0 {
		return b.fail(n, ErrUnsupported, "it does not read the output of the layer before it (%q)", b.cur)
	}
	if n.GetOpType() == "Dropout" {
		if len(n.GetOutput()) > 1 && len(b.uses[n.GetOutput()[1]]) > 0 {
			return b.fail(n, ErrUnsupported, "the dropout mask is used")
		}
	}
	b.cur = n.GetOutput()[0]
	return nil
}

// addLayer appends l, whose output has shape out (checked by the caller with
// smallShape where it can grow).
func (b *builder) addLayer(n *onnxpb.NodeProto, l model.Layer, out []int) {
	b.net.Layers = append(b.net.Layers, l)
	b.cur, b.shape = n.GetOutput()[0], out
	_, lin := l.(*model.Linear)
	_, cv := l.(*model.Conv2d)
	b.open = lin || cv
}

// hasLayers says whether a layer other than Flatten was added.
func (b *builder) hasLayers() bool {
	for _, l := range b.net.Layers {
		if _, ok := l.(model.Flatten); !ok {
			return true
		}
	}
	return false
}

// constTensor returns the constant named name or an error naming the input.
func (b *builder) constTensor(n *onnxpb.NodeProto, name, what string) (*tensor, error) {
	t, ok := b.consts[name]
	if !ok || name == "" {
		return nil, b.fail(n, ErrUnsupported, "its %s %q is not a constant (weights must be initializers or Constant nodes)", what, name)
	}
	return t, nil
}

func (b *builder) gemm(n *onnxpb.NodeProto) error {
	if len(b.shape) != 1 {
		return b.fail(n, ErrUnsupported, "Gemm on a value of shape %v; flatten it first", b.shape)
	}
	if attrInt(n, "transA", 0) != 0 {
		return b.fail(n, ErrUnsupported, "transA = 1 (the batch would not be the rows)")
	}
	if len(n.GetInput()) < 2 {
		return b.fail(n, ErrFormat, "Gemm without a weight input")
	}
	w, err := b.constTensor(n, n.GetInput()[1], "weight")
	if err != nil {
		return err
	}
	in := b.shape[0]
	if len(w.dims) != 2 || w.f == nil {
		return b.fail(n, ErrUnsupported, "weight of shape %v; a float matrix is supported", w.dims)
	}
	transB := attrInt(n, "transB", 0) != 0
	out, k := w.dims[1], w.dims[0]
	if transB {
		out, k = w.dims[0], w.dims[1]
	}
	if k != in {
		return b.fail(n, ErrUnsupported, "weight of shape %v for an input of %d features", w.dims, in)
	}
	alpha, beta := float64(attrFloat(n, "alpha", 1)), float64(attrFloat(n, "beta", 1))
	l := model.NewLinear(out, in)
	for o := range out {
		for i := range in {
			v := w.f[i*out+o]
			if transB {
				v = w.f[o*in+i]
			}
			l.W.Set(o, i, alpha*v)
		}
	}
	if len(n.GetInput()) > 2 && n.GetInput()[2] != "" {
		c, err := b.constTensor(n, n.GetInput()[2], "bias")
		if err != nil {
			return err
		}
		switch {
		case c.f != nil && size(c.dims) == out:
			for o := range out {
				l.B[o] = beta * c.f[o]
			}
		case c.f != nil && size(c.dims) == 1:
			for o := range out {
				l.B[o] = beta * c.f[0]
			}
		default:
			return b.fail(n, ErrUnsupported, "bias of shape %v for %d outputs", c.dims, out)
		}
	}
	if err := b.foldInput(n, l); err != nil {
		return err
	}
	b.addLayer(n, l, []int{out})
	return nil
}

func (b *builder) matmul(n *onnxpb.NodeProto) error {
	if len(b.shape) != 1 || len(n.GetInput()) != 2 {
		return b.fail(n, ErrUnsupported, "MatMul on a value of shape %v; a vector times a constant matrix is supported", b.shape)
	}
	w, err := b.constTensor(n, n.GetInput()[1], "weight")
	if err != nil {
		return err
	}
	in := b.shape[0]
	if len(w.dims) != 2 || w.dims[0] != in || w.f == nil {
		return b.fail(n, ErrUnsupported, "weight of shape %v for an input of %d features", w.dims, in)
	}
	out := w.dims[1]
	l := model.NewLinear(out, in)
	for o := range out {
		for i := range in {
			l.W.Set(o, i, w.f[i*out+o])
		}
	}
	if err := b.foldInput(n, l); err != nil {
		return err
	}
	b.addLayer(n, l, []int{out})
	return nil
}

func (b *builder) conv(n *onnxpb.NodeProto) error {
	if len(b.shape) != 3 || len(n.GetInput()) < 2 {
		return b.fail(n, ErrUnsupported, "Conv on a value of shape %v; [C, H, W] images are supported", b.shape)
	}
	w, err := b.constTensor(n, n.GetInput()[1], "weight")
	if err != nil {
		return err
	}
	if len(w.dims) != 4 || w.f == nil {
		return b.fail(n, ErrUnsupported, "weight of shape %v; 2-D convolutions are supported", w.dims)
	}
	if ap := attrString(n, "auto_pad", "NOTSET"); ap != "NOTSET" && ap != "VALID" {
		return b.fail(n, ErrUnsupported, "auto_pad %s; explicit pads are supported", ap)
	}
	groups := int(attrInt(n, "group", 1))
	stride, err := square(n, "strides", 1)
	if err != nil {
		return err
	}
	dil, err := square(n, "dilations", 1)
	if err != nil {
		return err
	}
	pad, err := symmetricPads(n)
	if err != nil {
		return err
	}
	c, h, wd := b.shape[0], b.shape[1], b.shape[2]
	outC, kh, kw := w.dims[0], w.dims[2], w.dims[3]
	if groups < 1 || c%groups != 0 || outC%groups != 0 || w.dims[1] != c/groups {
		return b.fail(n, ErrUnsupported, "weight of shape %v with %d groups for %d input channels", w.dims, groups, c)
	}
	l := &model.Conv2d{OutC: outC, InC: c, KH: kh, KW: kw, Stride: stride, Pad: pad, InH: h, InW: wd,
		Dilation: dil, Groups: groups, W: mat.NewDense(outC, w.dims[1]*kh*kw, append([]float64(nil), w.f...)), B: make([]float64, outC)}
	if len(n.GetInput()) > 2 && n.GetInput()[2] != "" {
		bias, err := b.constTensor(n, n.GetInput()[2], "bias")
		if err != nil {
			return err
		}
		if bias.f == nil || size(bias.dims) != outC {
			return b.fail(n, ErrUnsupported, "bias of shape %v for %d channels", bias.dims, outC)
		}
		copy(l.B, bias.f)
	}
	out, err := l.OutShape(b.shape)
	if err != nil {
		return b.fail(n, ErrUnsupported, "%v", err)
	}
	if !smallShape(out) {
		return b.fail(n, ErrUnsupported, "output of shape %v: more than %d values per sample", out, maxSampleElems)
	}
	if err := b.foldInput(n, l); err != nil {
		return err
	}
	b.addLayer(n, l, out)
	return nil
}

// batchNorm is the per-channel affine map scale·(x − mean)/√(var + ε) + B.
func (b *builder) batchNorm(n *onnxpb.NodeProto) error {
	if attrInt(n, "training_mode", 0) != 0 {
		return b.fail(n, ErrUnsupported, "training_mode 1; export the model in eval mode")
	}
	if len(n.GetInput()) != 5 {
		return b.fail(n, ErrFormat, "%d inputs, want 5 (X, scale, B, mean, var)", len(n.GetInput()))
	}
	var p [4][]float64
	ch := b.shape[0]
	for k, what := range []string{"scale", "bias", "mean", "variance"} {
		t, err := b.constTensor(n, n.GetInput()[k+1], what)
		if err != nil {
			return err
		}
		if t.f == nil || size(t.dims) != ch {
			return b.fail(n, ErrUnsupported, "%s of shape %v for %d channels", what, t.dims, ch)
		}
		p[k] = t.f
	}
	eps := float64(attrFloat(n, "epsilon", 1e-5))
	a, c := make([]float64, ch), make([]float64, ch)
	for k := range ch {
		a[k] = p[0][k] / math.Sqrt(p[3][k]+eps)
		c[k] = p[1][k] - p[2][k]*a[k]
	}
	f, err := b.broadcast(&tensor{dims: append([]int{ch}, ones(len(b.shape)-1)...), f: a})
	if err != nil {
		return b.fail(n, ErrUnsupported, "%v", err)
	}
	g, _ := b.broadcast(&tensor{dims: append([]int{ch}, ones(len(b.shape)-1)...), f: c})
	return b.applyAffine(n, affine{a: f, c: g})
}

func ones(k int) []int { return slices.Repeat([]int{1}, max(k, 0)) }

// arith is Add, Sub, Mul or Div of the chain's value and a constant.
func (b *builder) arith(n *onnxpb.NodeProto) error {
	ins := n.GetInput()
	if len(ins) != 2 || (ins[0] == b.cur) == (ins[1] == b.cur) {
		return b.fail(n, ErrUnsupported, "%s of the layer's value with itself or of two values; by a constant is supported", n.GetOpType())
	}
	curFirst := ins[0] == b.cur
	other := ins[1]
	if !curFirst {
		other = ins[0]
	}
	k, err := b.constTensor(n, other, "operand")
	if err != nil {
		return err
	}
	if k.f == nil {
		return b.fail(n, ErrUnsupported, "integer operand %q", other)
	}
	v, err := b.broadcast(k)
	if err != nil {
		return b.fail(n, ErrUnsupported, "%v", err)
	}
	m := len(v)
	a, c := slices.Repeat([]float64{1}, m), make([]float64, m)
	switch n.GetOpType() {
	case "Add":
		copy(c, v)
	case "Sub":
		if curFirst {
			for e := range c {
				c[e] = -v[e]
			}
		} else {
			for e := range c {
				a[e], c[e] = -1, v[e]
			}
		}
	case "Mul":
		copy(a, v)
	case "Div":
		if !curFirst {
			return b.fail(n, ErrUnsupported, "a constant divided by the layer's value is not affine")
		}
		for e := range a {
			if v[e] == 0 {
				return b.fail(n, ErrUnsupported, "division by zero")
			}
			a[e] = 1 / v[e]
		}
	}
	return b.applyAffine(n, affine{a: a, c: c})
}

// broadcast expands constant k to one value per element of the current sample, by
// NumPy's rules against [1, shape...].
func (b *builder) broadcast(k *tensor) ([]float64, error) {
	full := append([]int{1}, b.shape...)
	kd := k.dims
	if len(kd) > len(full) {
		return nil, fmt.Errorf("constant of shape %v does not broadcast to a value of shape %v", kd, b.shape)
	}
	// Pad the constant's dims on the left to full's rank.
	pd := append(ones(len(full)-len(kd)), kd...)
	for d := range full {
		if pd[d] != 1 && pd[d] != full[d] {
			return nil, fmt.Errorf("constant of shape %v does not broadcast to a value of shape %v", kd, b.shape)
		}
	}
	n := size(b.shape)
	out := make([]float64, n)
	idx := make([]int, len(full))
	for e := range n {
		// Multi-index of element e in full (the batch index stays 0).
		r := e
		for d := len(full) - 1; d >= 1; d-- {
			idx[d] = r % full[d]
			r /= full[d]
		}
		off, stride := 0, 1
		for d := len(full) - 1; d >= 0; d-- {
			if pd[d] != 1 {
				off += idx[d] * stride
			}
			stride *= pd[d]
		}
		out[e] = k.f[off]
	}
	return out, nil
}

// applyAffine folds y = a·x + c into the open Linear or Conv2d before it, or keeps it
// pending for what follows.
func (b *builder) applyAffine(n *onnxpb.NodeProto, f affine) error {
	b.cur = n.GetOutput()[0]
	if b.open {
		last := b.net.Layers[len(b.net.Layers)-1]
		switch l := last.(type) {
		case *model.Linear:
			for o := range l.B {
				row := l.W.RawRowView(o)
				for i := range row {
					row[i] *= f.a[o]
				}
				l.B[o] = f.a[o]*l.B[o] + f.c[o]
			}
			return nil
		case *model.Conv2d:
			per := size(b.shape) / l.OutC
			for o := range l.OutC {
				a, c := f.a[o*per], f.c[o*per]
				for e := o * per; e < (o+1)*per; e++ {
					if f.a[e] != a || f.c[e] != c {
						return b.fail(n, ErrUnsupported, "an element-wise map after a convolution that differs within a channel cannot be folded into it")
					}
				}
				row := l.W.RawRowView(o)
				for i := range row {
					row[i] *= a
				}
				l.B[o] = a*l.B[o] + c
			}
			return nil
		}
	}
	if b.pend == nil {
		b.pend = &f
		return nil
	}
	for e := range f.a {
		b.pend.a[e] *= f.a[e]
		b.pend.c[e] = f.a[e]*b.pend.c[e] + f.c[e]
	}
	return nil
}

// foldInput folds the pending affine map into layer l, which reads it: into the
// network's standardizer when l is the first layer and every scale is positive,
// otherwise into l's weights and biases.
func (b *builder) foldInput(n *onnxpb.NodeProto, l model.Layer) error {
	f := b.pend
	if f == nil {
		return nil
	}
	b.pend = nil
	if !b.hasLayers() && b.net.Standardizer == nil && !slices.ContainsFunc(f.a, func(v float64) bool { return v <= 0 }) {
		s := &model.Standardizer{Mean: make([]float64, len(f.a)), Std: make([]float64, len(f.a))}
		for e := range f.a {
			s.Std[e] = 1 / f.a[e]
			s.Mean[e] = 0 - f.c[e]/f.a[e] // 0 − x, so a zero mean is +0, not −0
		}
		b.net.Standardizer = s
		return nil
	}
	switch l := l.(type) {
	case *model.Linear:
		for o := range l.B {
			row := l.W.RawRowView(o)
			for i := range row {
				l.B[o] += row[i] * f.c[i]
				row[i] *= f.a[i]
			}
		}
	case *model.Conv2d:
		per := l.InH * l.InW
		inG := l.InC / max(l.Groups, 1)
		outG := l.OutC / max(l.Groups, 1)
		for ch := range l.InC {
			for e := ch * per; e < (ch+1)*per; e++ {
				if f.a[e] != f.a[ch*per] || f.c[e] != f.c[ch*per] {
					return b.fail(n, ErrUnsupported, "an element-wise map before a convolution that differs within a channel cannot be folded into it")
				}
				if l.Pad > 0 && f.c[e] != 0 {
					return b.fail(n, ErrUnsupported, "a shift before a zero-padded convolution cannot be folded into it (the padding would not be shifted)")
				}
			}
		}
		k := l.KH * l.KW
		for o := range l.OutC {
			g := o / outG
			row := l.W.RawRowView(o)
			for ci := range inG {
				ch := g*inG + ci
				a, c := f.a[ch*per], f.c[ch*per]
				for j := ci * k; j < (ci+1)*k; j++ {
					l.B[o] += row[j] * c
					row[j] *= a
				}
			}
		}
	}
	return nil
}

// activation appends an element-wise nonlinearity.
func (b *builder) activation(n *onnxpb.NodeProto, l model.Layer) error {
	if b.pend != nil {
		return b.fail(n, ErrUnsupported, "an element-wise affine map right before %s that no Gemm or Conv precedes cannot be folded", n.GetOpType())
	}
	b.addLayer(n, l, b.shape)
	return nil
}

// gelu recognizes GELU's erf form starting at node i, Div(x, √2) or Mul(x, 1/√2),
// then Erf, Add 1, and Mul by x and by ½ in either order, as PyTorch exports nn.GELU
// before opset 20; it consumes those nodes and appends the activation.
func (b *builder) gelu(i int, n *onnxpb.NodeProto) (bool, error) {
	ins, x := n.GetInput(), b.cur
	if len(ins) != 2 || ins[0] != x || (n.GetOpType() != "Div" && n.GetOpType() != "Mul") {
		return false, nil
	}
	k, ok := b.consts[ins[1]]
	if !ok || len(k.f) != 1 {
		return false, nil
	}
	want := math.Sqrt2
	if n.GetOpType() == "Mul" {
		want = 1 / math.Sqrt2
	}
	if math.Abs(k.f[0]-want) > 1e-6*want {
		return false, nil
	}
	nodes := b.g.GetNode()
	next := func(out, op string) (int, *onnxpb.NodeProto) {
		us := b.uses[out]
		if len(us) != 1 || nodes[us[0]].GetOpType() != op || b.done[us[0]] {
			return -1, nil
		}
		return us[0], nodes[us[0]]
	}
	var seq []int
	ie, e := next(n.GetOutput()[0], "Erf")
	if e == nil {
		return false, nil
	}
	ia, a := next(e.GetOutput()[0], "Add")
	if a == nil || !b.isConst(a, e.GetOutput()[0], 1) {
		return false, nil
	}
	seq = append(seq, ie, ia)
	t := a.GetOutput()[0]
	byX, half := false, false
	for range 2 {
		im, m := next(t, "Mul")
		if m == nil || len(m.GetInput()) != 2 {
			return false, nil
		}
		other := m.GetInput()[0]
		if other == t {
			other = m.GetInput()[1]
		}
		switch {
		case other == x && !byX:
			byX = true
		case !half && b.isConst(m, t, 0.5):
			half = true
		default:
			return false, nil
		}
		seq = append(seq, im)
		t = m.GetOutput()[0]
	}
	if b.pend != nil {
		return true, b.fail(n, ErrUnsupported, "an element-wise affine map right before GELU that no Gemm or Conv precedes cannot be folded")
	}
	for _, j := range seq {
		b.done[j] = true
	}
	b.addLayer(nodes[seq[len(seq)-1]], model.Activation{Func: model.GELU}, b.shape)
	_ = i
	return true, nil
}

// isConst says whether node m's input other than v is a scalar constant equal to want.
func (b *builder) isConst(m *onnxpb.NodeProto, v string, want float64) bool {
	for _, in := range m.GetInput() {
		if in == v {
			continue
		}
		k, ok := b.consts[in]
		return ok && len(k.f) == 1 && math.Abs(k.f[0]-want) <= 1e-6*math.Abs(want)
	}
	return false
}

// pool appends an average or max pool (square window, no padding).
func (b *builder) pool(n *onnxpb.NodeProto) error {
	if len(b.shape) != 3 {
		return b.fail(n, ErrUnsupported, "pooling a value of shape %v; [C, H, W] images are supported", b.shape)
	}
	c, h, w := b.shape[0], b.shape[1], b.shape[2]
	k, stride := h, 1
	if n.GetOpType() == "GlobalAveragePool" {
		if h != w {
			return b.fail(n, ErrUnsupported, "global pooling of a %dx%d image; square images are supported", h, w)
		}
	} else {
		var err error
		if k, err = square(n, "kernel_shape", 0); err != nil {
			return err
		}
		if stride, err = square(n, "strides", 1); err != nil {
			return err
		}
		if p, err := symmetricPads(n); err != nil || p != 0 {
			if err != nil {
				return err
			}
			return b.fail(n, ErrUnsupported, "pads %d; pooling without padding is supported", p)
		}
		if attrInt(n, "ceil_mode", 0) != 0 {
			return b.fail(n, ErrUnsupported, "ceil_mode 1; floor mode is supported")
		}
		if d, err := square(n, "dilations", 1); err != nil || d != 1 {
			if err != nil {
				return err
			}
			return b.fail(n, ErrUnsupported, "dilations %d; undilated pooling is supported", d)
		}
		if ap := attrString(n, "auto_pad", "NOTSET"); ap != "NOTSET" && ap != "VALID" {
			return b.fail(n, ErrUnsupported, "auto_pad %s; explicit pads are supported", ap)
		}
	}
	if k < 1 || k > h || k > w {
		return b.fail(n, ErrUnsupported, "window %d for a %dx%d image", k, h, w)
	}
	var l model.Layer
	if n.GetOpType() == "MaxPool" {
		if len(n.GetOutput()) > 1 && len(b.uses[n.GetOutput()[1]]) > 0 {
			return b.fail(n, ErrUnsupported, "MaxPool's indices output is used")
		}
		if b.pend != nil {
			return b.fail(n, ErrUnsupported, "an element-wise affine map right before MaxPool that no Gemm or Conv precedes cannot be folded")
		}
		l = &model.MaxPool2d{K: k, Stride: stride, C: c, InH: h, InW: w}
	} else {
		l = &model.AvgPool2d{K: k, Stride: stride, C: c, InH: h, InW: w}
	}
	out, err := l.OutShape(b.shape)
	if err != nil {
		return b.fail(n, ErrUnsupported, "%v", err)
	}
	if b.pend != nil {
		// A per-channel affine map commutes with averaging: move it past the pool.
		f, err := b.perChannel(n, out)
		if err != nil {
			return err
		}
		b.pend = f
	}
	b.addLayer(n, l, out)
	return nil
}

// perChannel re-expands the pending per-channel affine map to shape out.
func (b *builder) perChannel(n *onnxpb.NodeProto, out []int) (*affine, error) {
	per, nper := size(b.shape)/b.shape[0], size(out)/out[0]
	f := &affine{a: make([]float64, size(out)), c: make([]float64, size(out))}
	for ch := range b.shape[0] {
		a, c := b.pend.a[ch*per], b.pend.c[ch*per]
		for e := ch * per; e < (ch+1)*per; e++ {
			if b.pend.a[e] != a || b.pend.c[e] != c {
				return nil, b.fail(n, ErrUnsupported, "an element-wise map that differs within a channel before pooling cannot be folded")
			}
		}
		for e := ch * nper; e < (ch+1)*nper; e++ {
			f.a[e], f.c[e] = a, c
		}
	}
	return f, nil
}

// flatten appends a Flatten (nothing when the value is a vector already).
func (b *builder) flatten(n *onnxpb.NodeProto) error {
	if len(b.shape) == 1 {
		b.cur = n.GetOutput()[0]
		return nil
	}
	open, pend := b.open, b.pend
	b.addLayer(n, model.Flatten{}, []int{size(b.shape)})
	// Flatten moves no number: an open layer stays open, a pending map stays pending.
	b.open, b.pend = open, pend
	if open {
		// An affine map after the flatten folds per channel of the convolution: keep it
		// open only when that remains exact, which applyAffine checks per element.
		b.open = false
	}
	return nil
}

// reshape accepts a Reshape that keeps the batch and flattens, or keeps the shape.
func (b *builder) reshape(n *onnxpb.NodeProto) error {
	if len(n.GetInput()) != 2 {
		return b.fail(n, ErrFormat, "Reshape with %d inputs", len(n.GetInput()))
	}
	t, ok := b.consts[n.GetInput()[1]]
	if !ok || t.i == nil {
		return b.fail(n, ErrUnsupported, "its target shape %q is not a constant or a static shape", n.GetInput()[1])
	}
	tgt, total := t.i, size(b.shape)
	first := len(tgt) > 0 && (tgt[0] == batchDim || tgt[0] == 0 || tgt[0] == 1)
	switch {
	case len(tgt) == 2 && first && (tgt[1] == -1 || tgt[1] == int64(total)):
		return b.flatten(n)
	case len(tgt) == len(b.shape)+1 && first && slices.Equal(toInts(tgt[1:]), b.shape):
		b.cur = n.GetOutput()[0]
		return nil
	}
	return b.fail(n, ErrUnsupported, "Reshape of a value of shape %v to %s; only a flatten that keeps the batch is supported", b.shape, shapeString(tgt))
}

func toInts(v []int64) []int {
	out := make([]int, len(v))
	for k, x := range v {
		out[k] = int(x)
	}
	return out
}

func shapeString(v []int64) string {
	s := make([]string, len(v))
	for k, x := range v {
		if x == batchDim {
			s[k] = "batch"
		} else {
			s[k] = fmt.Sprint(x)
		}
	}
	return "[" + strings.Join(s, " ") + "]"
}

// transpose accepts a permutation that moves no number: the batch stays first and the
// dimensions larger than 1 keep their order.
func (b *builder) transpose(n *onnxpb.NodeProto) error {
	full := append([]int{1}, b.shape...)
	perm := attrInts(n, "perm")
	if perm == nil {
		for d := len(full) - 1; d >= 0; d-- {
			perm = append(perm, int64(d))
		}
	}
	if len(perm) != len(full) || perm[0] != 0 {
		return b.fail(n, ErrUnsupported, "perm %v moves the batch or does not fit a value of shape %v", perm, b.shape)
	}
	last := -1
	out := make([]int, 0, len(b.shape))
	for _, p := range perm[1:] {
		if p < 1 || int(p) >= len(full) {
			return b.fail(n, ErrUnsupported, "perm %v does not fit a value of shape %v", perm, b.shape)
		}
		if full[p] > 1 {
			if int(p) < last {
				return b.fail(n, ErrUnsupported, "perm %v reorders the elements of a value of shape %v; only transposes that move no number are supported", perm, b.shape)
			}
			last = int(p)
		}
		out = append(out, full[p])
	}
	if b.pend != nil && !slices.Equal(out, b.shape) {
		return b.fail(n, ErrUnsupported, "a transpose after a pending element-wise map")
	}
	b.cur, b.shape = n.GetOutput()[0], out
	if len(out) == 1 && len(b.net.Layers) > 0 {
		b.open = false
	}
	return nil
}

// pad accepts a constant Pad whose pads are all zero.
func (b *builder) pad(n *onnxpb.NodeProto) error {
	var pads []int64
	if b.opset >= 11 && len(n.GetInput()) > 1 && n.GetInput()[1] != "" {
		t, ok := b.consts[n.GetInput()[1]]
		if !ok || t.i == nil {
			return b.fail(n, ErrUnsupported, "pads %q are not constant", n.GetInput()[1])
		}
		pads = t.i
	} else {
		pads = attrInts(n, "pads")
	}
	for _, p := range pads {
		if p != 0 {
			return b.fail(n, ErrUnsupported, "pads %v; only Pad with zero pads (which PyTorch emits before AveragePool) is supported, pad in Conv instead", pads)
		}
	}
	b.cur = n.GetOutput()[0]
	return nil
}

// softmax drops a Softmax or LogSoftmax over the classes at the output.
func (b *builder) softmax(n *onnxpb.NodeProto) error {
	if len(b.shape) != 1 {
		return b.fail(n, ErrUnsupported, "%s of a value of shape %v; over the logits vector at the output is supported", n.GetOpType(), b.shape)
	}
	def := int64(-1)
	if b.opset < 13 {
		def = 1
	}
	if axis := attrInt(n, "axis", def); axis != 1 && axis != -1 {
		return b.fail(n, ErrUnsupported, "%s over axis %d; over the classes (axis 1) is supported", n.GetOpType(), axis)
	}
	outs := b.g.GetOutput()
	if len(outs) != 1 || outs[0].GetName() != n.GetOutput()[0] {
		return b.fail(n, ErrUnsupported, "%s that is not the graph's output; it is dropped only at the output, where it keeps the arg max", n.GetOpType())
	}
	if b.pend != nil {
		return b.fail(n, ErrUnsupported, "an element-wise affine map before %s that no layer absorbs", n.GetOpType())
	}
	b.cur, b.final = n.GetOutput()[0], true
	return nil
}
