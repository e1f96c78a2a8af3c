package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/mat"
)

// MaxWidth bounds every width, channel count, kernel size, stride and padding in a spec.
const MaxWidth = 1 << 16

// Spec is a parsed model spec string. Two families exist:
//
//	mlp:W1,W2,...    a multilayer perceptron: Linear(W1), ReLU, Linear(W2), ReLU, ...,
//	                 then Linear(classes). "mlp:" (no widths) is a linear classifier.
//	                 Image inputs are flattened first.
//	cnn:T1,T2,...    a small convolutional network on [C, H, W] inputs, tokens in order:
//	  c<O>k<K>[s<S>][p<P>]  Conv2d with O output channels, K×K kernel, stride S (default 1),
//	                        zero padding P (default 0), followed by ReLU
//	  pool<K>[s<S>]         AvgPool2d with K×K windows and stride S (default K)
//	  fc<W>                 Linear(W) followed by ReLU; the first fc flattens
//	                 then Flatten (if no fc did) and Linear(classes). No c or pool token
//	                 may follow an fc token.
//
// Example: "cnn:c8k3p1,pool2,c16k3p1,pool2,fc64" on 1×8×8 digits gives
// Conv2d(8,3×3,pad 1) ReLU AvgPool2d(2) Conv2d(16,3×3,pad 1) ReLU AvgPool2d(2) Flatten
// Linear(64) ReLU Linear(10). Every number must be in [1, MaxWidth] (padding in [0, K)).
type Spec struct {
	// Family is "mlp" or "cnn".
	Family string
	// Hidden holds the hidden widths of an MLP.
	Hidden []int
	// Blocks holds the tokens of a CNN in order.
	Blocks []Block
}

// Block is one token of a CNN spec.
type Block struct {
	Op     string // "conv", "pool" or "fc"
	Out    int    // output channels (conv) or width (fc)
	K      int    // kernel or window size (conv, pool)
	Stride int    // conv, pool
	Pad    int    // conv
}

func (b Block) String() string {
	switch b.Op {
	case "conv":
		s := fmt.Sprintf("c%dk%d", b.Out, b.K)
		if b.Stride != 1 {
			s += fmt.Sprintf("s%d", b.Stride)
		}
		if b.Pad != 0 {
			s += fmt.Sprintf("p%d", b.Pad)
		}
		return s
	case "pool":
		if b.Stride != b.K {
			return fmt.Sprintf("pool%ds%d", b.K, b.Stride)
		}
		return fmt.Sprintf("pool%d", b.K)
	default:
		return fmt.Sprintf("fc%d", b.Out)
	}
}

// String returns the canonical spec string (defaults left out).
func (s Spec) String() string {
	parts := make([]string, 0, max(len(s.Hidden), len(s.Blocks)))
	if s.Family == "mlp" {
		for _, w := range s.Hidden {
			parts = append(parts, strconv.Itoa(w))
		}
	} else {
		for _, b := range s.Blocks {
			parts = append(parts, b.String())
		}
	}
	return s.Family + ":" + strings.Join(parts, ",")
}

var (
	convRe = regexp.MustCompile(`^c([0-9]+)k([0-9]+)(?:s([0-9]+))?(?:p([0-9]+))?$`)
	poolRe = regexp.MustCompile(`^pool([0-9]+)(?:s([0-9]+))?$`)
	fcRe   = regexp.MustCompile(`^fc([0-9]+)$`)
)

// ParseSpec parses a model spec string (see [Spec]). Errors wrap [ErrSpec] and name the
// offending token.
func ParseSpec(spec string) (Spec, error) {
	fail := func(format string, args ...any) (Spec, error) {
		return Spec{}, &SpecError{Spec: spec, Why: fmt.Sprintf(format, args...)}
	}
	family, rest, ok := strings.Cut(strings.TrimSpace(spec), ":")
	if !ok {
		return fail(`want "mlp:W1,W2,..." or "cnn:TOKEN,..." (no ':' found)`)
	}
	family = strings.ToLower(strings.TrimSpace(family))
	var tokens []string
	if strings.TrimSpace(rest) != "" {
		tokens = strings.Split(rest, ",")
	}
	num := func(i int, tok, what, s string, lo int) (int, error) {
		v, err := strconv.Atoi(s)
		if err != nil || v < lo || v > MaxWidth {
			return 0, &SpecError{Spec: spec, Why: fmt.Sprintf("token %d %q: %s %s must be in [%d, %d]", i+1, tok, what, s, lo, MaxWidth)}
		}
		return v, nil
	}
	switch family {
	case "mlp":
		s := Spec{Family: "mlp"}
		for i, tok := range tokens {
			tok = strings.TrimSpace(tok)
			w, err := num(i, tok, "width", tok, 1)
			if err != nil {
				return Spec{}, err
			}
			s.Hidden = append(s.Hidden, w)
		}
		return s, nil
	case "cnn":
		if len(tokens) == 0 {
			return fail("cnn needs at least one token (c<out>k<k>[s<stride>][p<pad>], pool<k>[s<stride>] or fc<width>)")
		}
		s := Spec{Family: "cnn"}
		sawFC := false
		for i, tok := range tokens {
			tok = strings.ToLower(strings.TrimSpace(tok))
			var b Block
			var err error
			switch {
			case convRe.MatchString(tok):
				m := convRe.FindStringSubmatch(tok)
				b = Block{Op: "conv", Stride: 1}
				if b.Out, err = num(i, tok, "channels", m[1], 1); err != nil {
					return Spec{}, err
				}
				if b.K, err = num(i, tok, "kernel", m[2], 1); err != nil {
					return Spec{}, err
				}
				if m[3] != "" {
					if b.Stride, err = num(i, tok, "stride", m[3], 1); err != nil {
						return Spec{}, err
					}
				}
				if m[4] != "" {
					if b.Pad, err = num(i, tok, "padding", m[4], 0); err != nil {
						return Spec{}, err
					}
					if b.Pad >= b.K {
						return fail("token %d %q: padding %d must be smaller than the kernel %d", i+1, tok, b.Pad, b.K)
					}
				}
			case poolRe.MatchString(tok):
				m := poolRe.FindStringSubmatch(tok)
				b = Block{Op: "pool"}
				if b.K, err = num(i, tok, "window", m[1], 1); err != nil {
					return Spec{}, err
				}
				b.Stride = b.K
				if m[2] != "" {
					if b.Stride, err = num(i, tok, "stride", m[2], 1); err != nil {
						return Spec{}, err
					}
				}
			case fcRe.MatchString(tok):
				m := fcRe.FindStringSubmatch(tok)
				b = Block{Op: "fc"}
				if b.Out, err = num(i, tok, "width", m[1], 1); err != nil {
					return Spec{}, err
				}
			default:
				return fail("token %d %q: want c<out>k<k>[s<stride>][p<pad>], pool<k>[s<stride>] or fc<width>", i+1, tok)
			}
			if b.Op == "fc" {
				sawFC = true
			} else if sawFC {
				return fail("token %d %q: %s after an fc token (convolutions and pools come first)", i+1, tok, b.Op)
			}
			s.Blocks = append(s.Blocks, b)
		}
		return s, nil
	default:
		return fail("unknown family %q (want mlp or cnn)", family)
	}
}

// Build parses spec and builds a network for inputs of shape inShape and the given number
// of classes, with weights drawn from seed (see [Spec.Build]).
func Build(spec string, inShape []int, classes int, seed uint64) (*Network, error) {
	s, err := ParseSpec(spec)
	if err != nil {
		return nil, err
	}
	return s.Build(inShape, classes, seed)
}

// Build returns a new network for inputs of shape inShape ([features] or [C, H, W]) and
// the given number of classes. Weights are drawn from seed: He-uniform,
// U(±√(6/fan_in)), for layers followed by ReLU and Glorot-uniform,
// U(±√(6/(fan_in+fan_out))), for the output layer; biases start at zero. The network has
// no standardizer; the caller sets one fitted on the training data.
func (s Spec) Build(inShape []int, classes int, seed uint64) (*Network, error) {
	fail := func(format string, args ...any) (*Network, error) {
		return nil, &SpecError{Spec: s.String(), Why: fmt.Sprintf(format, args...)}
	}
	if len(inShape) == 0 || prod(inShape) <= 0 || slicesMin(inShape) <= 0 {
		return fail("input shape %v: want positive dimensions", inShape)
	}
	if classes < 2 {
		return fail("%d classes: want at least 2", classes)
	}
	net := &Network{InShape: append([]int(nil), inShape...), Classes: classes, Spec: s.String()}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	shape := append([]int(nil), inShape...)
	flatten := func() {
		if len(shape) != 1 {
			net.Layers = append(net.Layers, Flatten{})
			shape = []int{prod(shape)}
		}
	}
	linear := func(out int, hidden bool) {
		l := NewLinear(out, shape[0])
		initUniform(rng, l.W, shape[0], out, hidden)
		net.Layers = append(net.Layers, l)
		if hidden {
			net.Layers = append(net.Layers, ReLU{})
		}
		shape = []int{out}
	}
	switch s.Family {
	case "mlp":
		flatten()
		for _, w := range s.Hidden {
			linear(w, true)
		}
	case "cnn":
		if len(shape) != 3 {
			return fail("a cnn needs image inputs of shape [C H W], the data have shape %v", inShape)
		}
		for i, b := range s.Blocks {
			switch b.Op {
			case "conv":
				c, h, w := shape[0], shape[1], shape[2]
				if h+2*b.Pad < b.K || w+2*b.Pad < b.K {
					return fail("token %d %q: kernel %d does not fit the %dx%d input (padding %d)", i+1, b, b.K, h, w, b.Pad)
				}
				l := NewConv2d(b.Out, c, b.K, b.K, b.Stride, b.Pad, h, w)
				initUniform(rng, l.W, c*b.K*b.K, b.Out, true)
				oh, ow := l.OutHW()
				net.Layers = append(net.Layers, l, ReLU{})
				shape = []int{b.Out, oh, ow}
			case "pool":
				c, h, w := shape[0], shape[1], shape[2]
				if b.K > h || b.K > w {
					return fail("token %d %q: window %d does not fit the %dx%d input", i+1, b, b.K, h, w)
				}
				l := &AvgPool2d{K: b.K, Stride: b.Stride, C: c, InH: h, InW: w}
				oh, ow := l.OutHW()
				net.Layers = append(net.Layers, l)
				shape = []int{c, oh, ow}
			case "fc":
				flatten()
				linear(b.Out, true)
			default:
				return fail("token %d: unknown op %q", i+1, b.Op)
			}
		}
		flatten()
	default:
		return fail("unknown family %q", s.Family)
	}
	linear(classes, false)
	if err := net.Validate(); err != nil {
		return nil, fmt.Errorf("model: build %s: %w", s, err)
	}
	return net, nil
}

// initUniform fills w with U(±√(6/fan_in)) (hidden) or U(±√(6/(fan_in+fan_out))).
func initUniform(rng *rand.Rand, w *mat.Dense, fanIn, fanOut int, hidden bool) {
	bound := math.Sqrt(6 / float64(fanIn))
	if !hidden {
		bound = math.Sqrt(6 / float64(fanIn+fanOut))
	}
	r, _ := w.Dims()
	for i := 0; i < r; i++ {
		row := w.RawRowView(i)
		for j := range row {
			row[j] = bound * (2*rng.Float64() - 1)
		}
	}
}

func slicesMin(s []int) int {
	m := s[0]
	for _, v := range s[1:] {
		m = min(m, v)
	}
	return m
}
