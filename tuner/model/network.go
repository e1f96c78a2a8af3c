package model

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/fhetune/fhetune/fhe/circuit"
)

// Layer is one step of a [Network]: *[Linear], *[Conv2d], *[AvgPool2d], *[MaxPool2d],
// [ReLU], [Activation] or [Flatten]. The set is closed (the interface has unexported
// methods), so code that compiles or inspects a network can switch on the concrete types.
type Layer interface {
	// Kind names the layer type: "linear", "conv2d", "avgpool2d", "maxpool2d", "relu",
	// "flatten", or an Activation's function ("leaky_relu", "sigmoid", "tanh", "gelu").
	Kind() string
	// OutShape returns the shape of one output sample for an input sample of shape in, or
	// an error wrapping [ErrShape] when the layer cannot take that input.
	OutShape(in []int) ([]int, error)
	// Forward returns the layer's output for the batch x (rows = samples, each row one
	// sample flattened in channel-major order). It reads x and the layer and writes
	// neither; it is safe for concurrent use. It panics when x has the wrong number of
	// columns (a programming error: [Network.Validate] checks shapes).
	Forward(x *mat.Dense) *mat.Dense
	// NumParams returns the number of weights and biases (0 for parameter-free layers).
	NumParams() int

	// apply is Forward that may overwrite x when owned is true.
	apply(x *mat.Dense, owned bool) *mat.Dense
	// clone returns a deep copy.
	clone() Layer
	// check validates the parameters' own consistency (dimensions, finite values).
	check() error
	// newState returns the training state (caches, gradients) for this layer.
	newState() layerState
}

// layerState is what training keeps per layer: the forward caches and the gradients.
type layerState interface {
	// forward computes the output of a training batch and keeps what backward needs.
	forward(x *mat.Dense) *mat.Dense
	// backward takes the gradient of the loss with respect to the output of the last
	// forward call, stores the parameter gradients and returns the gradient with respect
	// to the input (nil when needInput is false).
	backward(dy *mat.Dense, needInput bool) *mat.Dense
	// params returns the trainable tensors with their gradients (none for some layers).
	params() []param
}

// param is one trainable tensor: its values, the gradient of the last backward pass, an
// optional mask (false entries stay zero) and whether it holds weights (decayed) or biases.
type param struct {
	val, grad []float64
	mask      []bool
	weight    bool
}

// Standardizer maps a raw input x to (x − Mean) / Std, feature by feature. A Std entry
// that is zero (a constant feature) divides by one instead.
type Standardizer struct {
	Mean []float64 // per input feature
	Std  []float64 // per input feature, ≥ 0
}

// Apply returns a standardized copy of x (rows = samples). It panics when x does not have
// len(Mean) columns.
func (s *Standardizer) Apply(x *mat.Dense) *mat.Dense {
	r, c := x.Dims()
	if c != len(s.Mean) || c != len(s.Std) {
		panic(fmt.Sprintf("model: standardizer has %d features, data has %d", len(s.Mean), c))
	}
	out := mat.NewDense(r, c, nil)
	s.applyTo(out, x)
	return out
}

// applyTo writes x standardized into dst (same shape; dst may be x).
func (s *Standardizer) applyTo(dst, x *mat.Dense) {
	r, c := x.Dims()
	inv := make([]float64, c)
	for j, sd := range s.Std {
		inv[j] = 1
		if sd > 0 {
			inv[j] = 1 / sd
		}
	}
	for i := 0; i < r; i++ {
		src, d := x.RawRowView(i), dst.RawRowView(i)
		for j, v := range src {
			d[j] = (v - s.Mean[j]) * inv[j]
		}
	}
}

func (s *Standardizer) clone() *Standardizer {
	if s == nil {
		return nil
	}
	return &Standardizer{Mean: slices.Clone(s.Mean), Std: slices.Clone(s.Std)}
}

// Network is a float classifier: an input shape, a standardizer, and an ordered list of
// layers whose last output is one logit per class.
//
// Fields may be read freely. Code that changes them should call [Network.Validate]
// afterwards. Forward passes are safe for concurrent use; training and pruning are not.
type Network struct {
	// InShape is the shape of one raw input sample: [features] for tabular data,
	// [C, H, W] for images.
	InShape []int
	// Classes is the number of outputs (logits) of the last layer.
	Classes int
	// Standardizer maps raw inputs to what the first layer takes; nil means none.
	Standardizer *Standardizer
	// Layers are applied in order.
	Layers []Layer
	// Spec is the spec string the network was built from (informational).
	Spec string
	// Dataset names the data the network was trained on (informational).
	Dataset string
	// Meta holds free-form provenance such as the training seed and accuracies; it is
	// saved with the network.
	Meta map[string]string
}

// InSize returns the number of input features (the product of InShape).
func (n *Network) InSize() int { return prod(n.InShape) }

// Shapes returns the sample shape after each layer: Shapes()[i] is the output shape of
// Layers[i]. It fails like [Network.Validate] when the layers do not chain.
func (n *Network) Shapes() ([][]int, error) {
	if len(n.InShape) == 0 {
		return nil, shapeErr("network has no input shape")
	}
	for _, d := range n.InShape {
		if d <= 0 {
			return nil, shapeErr("input shape %v has a non-positive dimension", n.InShape)
		}
	}
	shapes := make([][]int, len(n.Layers))
	cur := n.InShape
	for i, l := range n.Layers {
		out, err := l.OutShape(cur)
		if err != nil {
			return nil, fmt.Errorf("layer %d (%s): %w", i, l.Kind(), err)
		}
		shapes[i] = out
		cur = out
	}
	return shapes, nil
}

// Validate checks that the network is usable: each layer's parameters are consistent and
// finite, the layers chain from InShape, the last output has Classes entries, and the
// standardizer (if any) has one finite mean and non-negative std per input feature.
func (n *Network) Validate() error {
	if len(n.Layers) == 0 {
		return shapeErr("network has no layers")
	}
	if n.Classes < 2 {
		return shapeErr("network has %d classes, want at least 2", n.Classes)
	}
	for i, l := range n.Layers {
		if l == nil {
			return shapeErr("layer %d is nil", i)
		}
		if err := l.check(); err != nil {
			return fmt.Errorf("layer %d (%s): %w", i, l.Kind(), err)
		}
	}
	shapes, err := n.Shapes()
	if err != nil {
		return err
	}
	if err := n.checkQAT(); err != nil {
		return err
	}
	last := shapes[len(shapes)-1]
	if len(last) != 1 || last[0] != n.Classes {
		return shapeErr("last layer gives shape %v, want [%d] (one logit per class)", last, n.Classes)
	}
	if s := n.Standardizer; s != nil {
		in := n.InSize()
		if len(s.Mean) != in || len(s.Std) != in {
			return shapeErr("standardizer has %d means and %d stds for %d input features", len(s.Mean), len(s.Std), in)
		}
		for j := range s.Mean {
			if !finite(s.Mean[j]) || !finite(s.Std[j]) || s.Std[j] < 0 {
				return shapeErr("standardizer feature %d: mean %v, std %v (want finite, std ≥ 0)", j, s.Mean[j], s.Std[j])
			}
		}
	}
	return nil
}

// Clone returns a deep copy of the network.
func (n *Network) Clone() *Network {
	c := &Network{
		InShape:      slices.Clone(n.InShape),
		Classes:      n.Classes,
		Standardizer: n.Standardizer.clone(),
		Layers:       make([]Layer, len(n.Layers)),
		Spec:         n.Spec,
		Dataset:      n.Dataset,
	}
	for i, l := range n.Layers {
		c.Layers[i] = l.clone()
	}
	if n.Meta != nil {
		c.Meta = make(map[string]string, len(n.Meta))
		for k, v := range n.Meta {
			c.Meta[k] = v
		}
	}
	return c
}

// NumParams returns the number of weights and biases of all layers.
func (n *Network) NumParams() int {
	t := 0
	for _, l := range n.Layers {
		t += l.NumParams()
	}
	return t
}

// Sparsity returns the number of weights (biases excluded) of all [Linear] and [Conv2d]
// layers and how many of them are zero.
func (n *Network) Sparsity() (weights, zeros int) {
	for _, l := range n.Layers {
		w, z := LayerSparsity(l)
		weights += w
		zeros += z
	}
	return weights, zeros
}

// LayerSparsity returns the number of weights of a [Linear] or [Conv2d] layer (biases
// excluded) and how many of them are zero; other layers have none.
func LayerSparsity(l Layer) (weights, zeros int) {
	var w *mat.Dense
	switch l := l.(type) {
	case *Linear:
		w = l.W
	case *Conv2d:
		w = l.W
	default:
		return 0, 0
	}
	r, c := w.Dims()
	for i := 0; i < r; i++ {
		for _, v := range w.RawRowView(i) {
			if v == 0 {
				zeros++
			}
		}
	}
	return r * c, zeros
}

// Standardize returns the inputs the first layer takes: a standardized copy of the raw
// batch x, or a copy of x when the network has no standardizer. It panics when x does not
// have InSize columns.
func (n *Network) Standardize(x *mat.Dense) *mat.Dense {
	if _, c := x.Dims(); c != n.InSize() {
		panic(fmt.Sprintf("model: network takes %d input features, batch has %d", n.InSize(), c))
	}
	if n.Standardizer == nil {
		return mat.DenseCopyOf(x)
	}
	return n.Standardizer.Apply(x)
}

// Forward runs the layers on a batch of standardized inputs and returns the logits
// (rows = samples, one column per class). It does not modify x.
func (n *Network) Forward(x *mat.Dense) *mat.Dense {
	return n.forward(x, false)
}

func (n *Network) forward(x *mat.Dense, owned bool) *mat.Dense {
	var in *circuit.Quantizer
	for _, l := range n.Layers {
		var next *mat.Dense
		if in != nil {
			next = applyLayer(l, x, in)
		} else {
			next = l.apply(x, owned)
		}
		in = passQuant(l, in)
		owned = owned || next != x
		x = next
	}
	if !owned {
		x = mat.DenseCopyOf(x)
	}
	return x
}

// Logits standardizes the raw batch x and returns the network's logits.
func (n *Network) Logits(x *mat.Dense) *mat.Dense {
	return n.forward(n.Standardize(x), true)
}

// Predict returns the predicted class (arg max of the logits) of each row of the raw
// batch x.
func (n *Network) Predict(x *mat.Dense) []int {
	return argmaxRows(n.Logits(x))
}

// Accuracy returns the share of rows of the raw batch x whose predicted class equals y.
// It returns an error wrapping [ErrData] when the data are empty or do not fit.
func (n *Network) Accuracy(x *mat.Dense, y []int) (float64, error) {
	if err := n.checkData(Data{X: x, Y: y}, "data"); err != nil {
		return 0, err
	}
	pred := n.Predict(x)
	return accuracy(pred, y), nil
}

// checkData verifies that d is non-empty, fits the network and has labels in range.
func (n *Network) checkData(d Data, what string) error {
	if d.X == nil {
		return dataErr("%s: no samples", what)
	}
	r, c := d.X.Dims()
	if r == 0 {
		return dataErr("%s: no samples", what)
	}
	if c != n.InSize() {
		return dataErr("%s: %d features per sample, the network takes %d (input shape %v)", what, c, n.InSize(), n.InShape)
	}
	if len(d.Y) != r {
		return dataErr("%s: %d samples but %d labels", what, r, len(d.Y))
	}
	for i, y := range d.Y {
		if y < 0 || y >= n.Classes {
			return dataErr("%s: row %d: label %d out of range [0, %d)", what, i, y, n.Classes)
		}
	}
	for i := 0; i < r; i++ {
		for j, v := range d.X.RawRowView(i) {
			if !finite(v) {
				return dataErr("%s: row %d, feature %d: value %v is not finite", what, i, j, v)
			}
		}
	}
	return nil
}

func argmaxRows(m *mat.Dense) []int {
	r, _ := m.Dims()
	out := make([]int, r)
	for i := range out {
		row := m.RawRowView(i)
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		out[i] = best
	}
	return out
}

func accuracy(pred, y []int) float64 {
	if len(y) == 0 {
		return 0
	}
	ok := 0
	for i := range y {
		if pred[i] == y[i] {
			ok++
		}
	}
	return float64(ok) / float64(len(y))
}

func prod(s []int) int {
	p := 1
	for _, d := range s {
		p *= d
	}
	return p
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
