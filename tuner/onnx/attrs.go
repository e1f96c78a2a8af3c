package onnx

import (
	"slices"

	"github.com/fhetune/fhetune/tuner/onnx/onnxpb"
)

// attr returns node n's attribute named name, or nil.
func attr(n *onnxpb.NodeProto, name string) *onnxpb.AttributeProto {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return a
		}
	}
	return nil
}

func attrInt(n *onnxpb.NodeProto, name string, def int64) int64 {
	if a := attr(n, name); a != nil {
		return a.GetI()
	}
	return def
}

func attrFloat(n *onnxpb.NodeProto, name string, def float32) float32 {
	if a := attr(n, name); a != nil {
		return a.GetF()
	}
	return def
}

func attrString(n *onnxpb.NodeProto, name, def string) string {
	if a := attr(n, name); a != nil {
		return string(a.GetS())
	}
	return def
}

func attrInts(n *onnxpb.NodeProto, name string) []int64 {
	if a := attr(n, name); a != nil {
		return a.GetInts()
	}
	return nil
}

// square returns the common value of a 2-D attribute such as strides ([s, s]), def
// when it is absent, and an error when its two values differ.
func square(n *onnxpb.NodeProto, name string, def int) (int, error) {
	v := attrInts(n, name)
	switch {
	case v == nil && def > 0:
		return def, nil
	case len(v) == 2 && v[0] == v[1] && v[0] > 0 && v[0] <= 1<<16:
		return int(v[0]), nil
	}
	return 0, &Error{Node: n.GetName(), OpType: n.GetOpType(), Offset: -1, Err: ErrUnsupported,
		Why: "attribute " + name + " " + intsString(v) + "; equal positive values for height and width are supported"}
}

// symmetricPads returns the padding of a node whose pads are [p, p, p, p] (0 when
// absent).
func symmetricPads(n *onnxpb.NodeProto) (int, error) {
	v := attrInts(n, "pads")
	if v == nil {
		return 0, nil
	}
	if len(v) == 4 && v[0] >= 0 && v[0] <= 1<<16 && !slices.ContainsFunc(v, func(x int64) bool { return x != v[0] }) {
		return int(v[0]), nil
	}
	return 0, &Error{Node: n.GetName(), OpType: n.GetOpType(), Offset: -1, Err: ErrUnsupported,
		Why: "pads " + intsString(v) + "; the same padding on all four sides is supported"}
}

func intsString(v []int64) string {
	if v == nil {
		return "(absent)"
	}
	return shapeString(v)
}

// constant records a Constant node's value.
func (b *builder) constant(n *onnxpb.NodeProto) error {
	if len(n.GetOutput()) != 1 || len(n.GetAttribute()) != 1 {
		return b.fail(n, ErrFormat, "a Constant needs one output and one value attribute")
	}
	a := n.GetAttribute()[0]
	var t *tensor
	switch a.GetName() {
	case "value":
		v, err := readTensor(a.GetT())
		if err != nil {
			return b.fail(n, ErrFormat, "%v", err)
		}
		t = v
	case "value_float":
		t = &tensor{f: []float64{float64(a.GetF())}}
	case "value_floats":
		t = &tensor{dims: []int{len(a.GetFloats())}}
		for _, x := range a.GetFloats() {
			t.f = append(t.f, float64(x))
		}
	case "value_int":
		t = &tensor{i: []int64{a.GetI()}}
	case "value_ints":
		t = &tensor{dims: []int{len(a.GetInts())}, i: slices.Clone(a.GetInts())}
	default:
		return b.fail(n, ErrUnsupported, "Constant of attribute %s; tensors, floats and ints are supported", a.GetName())
	}
	b.consts[n.GetOutput()[0]] = t
	return nil
}

// shapeOp evaluates Shape, Gather, Unsqueeze, Squeeze, Concat and Cast on static
// integer values, as PyTorch emits them to compute a Reshape's target.
func (b *builder) shapeOp(n *onnxpb.NodeProto) error {
	ins, outs := n.GetInput(), n.GetOutput()
	if len(ins) == 0 || len(outs) == 0 {
		return b.fail(n, ErrFormat, "%s without input or output", n.GetOpType())
	}
	get := func(k int) (*tensor, error) {
		t, ok := b.consts[ins[k]]
		if !ok || (t.i == nil && n.GetOpType() != "Cast") {
			return nil, b.fail(n, ErrUnsupported, "%s of %q, which is not a static shape; only shape computations are supported", n.GetOpType(), ins[k])
		}
		return t, nil
	}
	var out *tensor
	switch n.GetOpType() {
	case "Shape":
		if ins[0] != b.cur {
			return b.fail(n, ErrUnsupported, "Shape of %q, not of the layer's value", ins[0])
		}
		full := []int64{batchDim}
		for _, d := range b.shape {
			full = append(full, int64(d))
		}
		start, end := attrInt(n, "start", 0), attrInt(n, "end", int64(len(full)))
		start, end = clampAxis(start, len(full)), clampAxis(end, len(full))
		if start > end {
			start = end
		}
		out = &tensor{dims: []int{int(end - start)}, i: full[start:end]}
	case "Gather":
		data, err := get(0)
		if err != nil {
			return err
		}
		if len(ins) < 2 {
			return b.fail(n, ErrFormat, "Gather without indices")
		}
		idx, err := get(1)
		if err != nil {
			return err
		}
		if attrInt(n, "axis", 0) != 0 || len(data.dims) > 1 {
			return b.fail(n, ErrUnsupported, "Gather along axis %d of a %d-D value; indexing a shape vector is supported", attrInt(n, "axis", 0), len(data.dims))
		}
		out = &tensor{dims: idx.dims}
		for _, k := range idx.i {
			if k < 0 {
				k += int64(len(data.i))
			}
			if k < 0 || k >= int64(len(data.i)) {
				return b.fail(n, ErrFormat, "index %d out of a shape of %d dimensions", k, len(data.i))
			}
			out.i = append(out.i, data.i[k])
		}
	case "Unsqueeze", "Squeeze", "Cast":
		t, err := get(0)
		if err != nil {
			return err
		}
		if t.i == nil {
			b.consts[outs[0]] = t // a float constant cast to float
			return nil
		}
		out = &tensor{dims: []int{len(t.i)}, i: t.i}
	case "Concat":
		out = &tensor{}
		for k := range ins {
			t, err := get(k)
			if err != nil {
				return err
			}
			out.i = append(out.i, t.i...)
		}
		out.dims = []int{len(out.i)}
	}
	b.consts[outs[0]] = out
	return nil
}

// clampAxis maps a possibly negative axis bound into 0..n.
func clampAxis(a int64, n int) int64 {
	if a < 0 {
		a += int64(n)
	}
	return min(max(a, 0), int64(n))
}
