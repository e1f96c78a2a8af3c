package onnx

import (
	"fmt"
	"math"

	"google.golang.org/protobuf/proto"

	"github.com/fhetune/fhetune/atomicfile"
	"github.com/fhetune/fhetune/tuner/model"
	"github.com/fhetune/fhetune/tuner/onnx/onnxpb"
)

// WriteOpset is the opset [Encode] writes: supported by PyTorch's and ONNX Runtime's
// loaders and by Concrete ML.
const WriteOpset = 13

// irVersion is the ONNX IR version that goes with opset 13.
const irVersion = 7

// Encode serializes net as an ONNX model (see the package doc): input "input" of shape
// [batch, InShape...], output "logits" of shape [batch, Classes]. A quantization-aware
// network ([model.Network.Quantized]) is refused: the float graph written here has no
// place for its quantizers, and dropping them would give another network.
func Encode(net *model.Network) ([]byte, error) {
	if err := net.Validate(); err != nil {
		return nil, fmt.Errorf("onnx: encode: %w", err)
	}
	if net.Quantized() {
		return nil, fmt.Errorf("onnx: encode: a quantization-aware network (quant layers, quantized weights) has no ONNX export; the float graph would drop its quantizers")
	}
	e := &encoder{}
	cur := "input"
	if s := net.Standardizer; s != nil {
		std := make([]float64, len(s.Std))
		for k, v := range s.Std {
			std[k] = v
			if v == 0 {
				std[k] = 1 // Standardizer divides by one for a constant feature
			}
		}
		shape := append([]int{1}, net.InShape...)
		cur = e.node("Sub", "standardize_sub", []string{cur, e.init("mean", shape, s.Mean)})
		cur = e.node("Div", "standardize_div", []string{cur, e.init("std", shape, std)})
	}
	for i, l := range net.Layers {
		var err error
		if cur, err = e.layer(i, l, cur); err != nil {
			return nil, fmt.Errorf("onnx: encode layer %d (%s): %w", i, l.Kind(), err)
		}
	}
	if len(e.nodes) == 0 {
		return nil, fmt.Errorf("onnx: encode: the network has no layer")
	}
	// The last value is the graph's output.
	e.nodes[len(e.nodes)-1].Output[0] = "logits"
	g := &onnxpb.GraphProto{Name: proto.String("fhetune"), Node: e.nodes, Initializer: e.inits,
		Input:  []*onnxpb.ValueInfoProto{valueInfo("input", append([]int{-1}, net.InShape...))},
		Output: []*onnxpb.ValueInfoProto{valueInfo("logits", []int{-1, net.Classes})}}
	m := &onnxpb.ModelProto{IrVersion: proto.Int64(irVersion), ProducerName: proto.String("fhetune"),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(WriteOpset)}}, Graph: g}
	m.DocString = proto.String("float network written by fhetune")
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

// Write saves net as an ONNX model at path, atomically (a temporary file renamed over
// path, so a failure leaves no partial file).
func Write(path string, net *model.Network) error {
	data, err := Encode(net)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, data); err != nil {
		return fmt.Errorf("onnx: write %s: %w", path, err)
	}
	return nil
}

// encoder collects the nodes and initializers of the graph being written.
type encoder struct {
	nodes []*onnxpb.NodeProto
	inits []*onnxpb.TensorProto
	n     int
}

// node appends a node of op type op reading ins and returns its output's name.
func (e *encoder) node(op, name string, ins []string, attrs ...*onnxpb.AttributeProto) string {
	e.n++
	out := fmt.Sprintf("%s_out_%d", name, e.n)
	e.nodes = append(e.nodes, &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(fmt.Sprintf("%s_%d", name, e.n)),
		Input: ins, Output: []string{out}, Attribute: attrs})
	return out
}

// init adds a float32 initializer and returns its name.
func (e *encoder) init(name string, dims []int, v []float64) string {
	name = fmt.Sprintf("%s_%d", name, len(e.inits))
	e.inits = append(e.inits, float32Tensor(name, dims, v))
	return name
}

func (e *encoder) layer(i int, l model.Layer, cur string) (string, error) {
	p := fmt.Sprintf("layer%d", i)
	switch l := l.(type) {
	case *model.Linear:
		out, in := l.Dims()
		w := e.init(p+"_weight", []int{out, in}, append([]float64(nil), l.W.RawMatrix().Data...))
		b := e.init(p+"_bias", []int{out}, l.B)
		return e.node("Gemm", p+"_gemm", []string{cur, w, b}, intAttr("transB", 1)), nil
	case *model.Conv2d:
		g := max(l.Groups, 1)
		d := max(l.Dilation, 1)
		w := e.init(p+"_weight", []int{l.OutC, l.InC / g, l.KH, l.KW}, append([]float64(nil), l.W.RawMatrix().Data...))
		b := e.init(p+"_bias", []int{l.OutC}, l.B)
		return e.node("Conv", p+"_conv", []string{cur, w, b}, intsAttr("kernel_shape", l.KH, l.KW),
			intsAttr("strides", l.Stride, l.Stride), intsAttr("pads", l.Pad, l.Pad, l.Pad, l.Pad),
			intsAttr("dilations", d, d), intAttr("group", g)), nil
	case *model.AvgPool2d:
		return e.node("AveragePool", p+"_avgpool", []string{cur}, intsAttr("kernel_shape", l.K, l.K), intsAttr("strides", l.Stride, l.Stride)), nil
	case *model.MaxPool2d:
		return e.node("MaxPool", p+"_maxpool", []string{cur}, intsAttr("kernel_shape", l.K, l.K), intsAttr("strides", l.Stride, l.Stride)), nil
	case model.ReLU:
		return e.node("Relu", p+"_relu", []string{cur}), nil
	case model.Flatten:
		return e.node("Flatten", p+"_flatten", []string{cur}, intAttr("axis", 1)), nil
	case model.Activation:
		switch l.Func {
		case model.LeakyReLU:
			return e.node("LeakyRelu", p+"_leakyrelu", []string{cur}, floatAttr("alpha", l.Alpha)), nil
		case model.Sigmoid:
			return e.node("Sigmoid", p+"_sigmoid", []string{cur}), nil
		case model.Tanh:
			return e.node("Tanh", p+"_tanh", []string{cur}), nil
		case model.GELU:
			// x·½·(1 + erf(x/√2)), as PyTorch writes nn.GELU before opset 20.
			t := e.node("Div", p+"_gelu_div", []string{cur, e.init(p+"_sqrt2", nil, []float64{math.Sqrt2})})
			t = e.node("Erf", p+"_gelu_erf", []string{t})
			t = e.node("Add", p+"_gelu_add", []string{t, e.init(p+"_one", nil, []float64{1})})
			t = e.node("Mul", p+"_gelu_mul", []string{cur, t})
			return e.node("Mul", p+"_gelu_half", []string{t, e.init(p+"_half", nil, []float64{0.5})}), nil
		}
		return "", fmt.Errorf("activation %q has no ONNX form", l.Func)
	}
	return "", fmt.Errorf("layer %s has no ONNX form", l.Kind())
}

func intAttr(name string, v int) *onnxpb.AttributeProto {
	t := onnxpb.AttributeProto_INT
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: &t, I: proto.Int64(int64(v))}
}

func intsAttr(name string, vs ...int) *onnxpb.AttributeProto {
	t := onnxpb.AttributeProto_INTS
	a := &onnxpb.AttributeProto{Name: proto.String(name), Type: &t}
	for _, v := range vs {
		a.Ints = append(a.Ints, int64(v))
	}
	return a
}

func floatAttr(name string, v float64) *onnxpb.AttributeProto {
	t := onnxpb.AttributeProto_FLOAT
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: &t, F: proto.Float32(float32(v))}
}

// valueInfo describes a float tensor of shape dims, -1 standing for the batch.
func valueInfo(name string, dims []int) *onnxpb.ValueInfoProto {
	sh := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		if d < 0 {
			sh.Dim = append(sh.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "batch"}})
		} else {
			sh.Dim = append(sh.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
		}
	}
	et := int32(onnxpb.TensorProto_FLOAT)
	return &onnxpb.ValueInfoProto{Name: proto.String(name),
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: &et, Shape: sh}}}}
}
