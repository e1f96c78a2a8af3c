package onnx

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/fhetune/fhetune/tuner/onnx/onnxpb"
)

// tensor is a constant: an initializer, a Constant node's value, or a static shape
// computed from Shape/Gather/Concat chains. Exactly one of f and i is set; i may hold
// batchDim for the symbolic batch size.
type tensor struct {
	dims []int
	f    []float64
	i    []int64
}

// batchDim stands for the batch size in static shape tensors (it is unknown until run
// time; a Reshape may only keep it as the first dimension).
const batchDim = math.MinInt64

// size returns the number of elements of dims.
func size(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}

// maxTensorElems bounds a tensor's element count, so a hostile header cannot make the
// reader allocate without bound (10^8 float64s: 800 MB).
const maxTensorElems = 100_000_000

// readTensor converts t to float64s (float and double tensors) or int64s (integer
// tensors), from raw_data (little-endian) or the typed fields.
func readTensor(t *onnxpb.TensorProto) (*tensor, error) {
	if t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
		return nil, fmt.Errorf("tensor %q keeps its data in an external file, which is not supported (export without external data)", t.GetName())
	}
	out := &tensor{}
	for _, d := range t.GetDims() {
		if d < 0 || d > maxTensorElems {
			return nil, fmt.Errorf("tensor %q: dimension %d out of range", t.GetName(), d)
		}
		out.dims = append(out.dims, int(d))
	}
	n := size(out.dims)
	if n > maxTensorElems {
		return nil, fmt.Errorf("tensor %q: %d elements, more than %d", t.GetName(), n, maxTensorElems)
	}
	raw := t.GetRawData()
	want := func(have, width int) error {
		if have != n {
			return fmt.Errorf("tensor %q of shape %v holds %d values, want %d", t.GetName(), out.dims, have/max(width, 1), n)
		}
		return nil
	}
	switch dt := onnxpb.TensorProto_DataType(t.GetDataType()); dt {
	case onnxpb.TensorProto_FLOAT:
		if raw != nil {
			if err := want(len(raw)/4, 1); err != nil || len(raw)%4 != 0 {
				return nil, fmt.Errorf("tensor %q: %d bytes of float32 for shape %v", t.GetName(), len(raw), out.dims)
			}
			out.f = make([]float64, n)
			for k := range out.f {
				out.f[k] = float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*k:])))
			}
		} else {
			if err := want(len(t.GetFloatData()), 1); err != nil {
				return nil, err
			}
			out.f = make([]float64, n)
			for k, v := range t.GetFloatData() {
				out.f[k] = float64(v)
			}
		}
	case onnxpb.TensorProto_DOUBLE:
		if raw != nil {
			if len(raw) != 8*n {
				return nil, fmt.Errorf("tensor %q: %d bytes of float64 for shape %v", t.GetName(), len(raw), out.dims)
			}
			out.f = make([]float64, n)
			for k := range out.f {
				out.f[k] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*k:]))
			}
		} else {
			if err := want(len(t.GetDoubleData()), 1); err != nil {
				return nil, err
			}
			out.f = append([]float64(nil), t.GetDoubleData()...)
		}
	case onnxpb.TensorProto_INT64:
		if raw != nil {
			if len(raw) != 8*n {
				return nil, fmt.Errorf("tensor %q: %d bytes of int64 for shape %v", t.GetName(), len(raw), out.dims)
			}
			out.i = make([]int64, n)
			for k := range out.i {
				out.i[k] = int64(binary.LittleEndian.Uint64(raw[8*k:]))
			}
		} else {
			if err := want(len(t.GetInt64Data()), 1); err != nil {
				return nil, err
			}
			out.i = append([]int64(nil), t.GetInt64Data()...)
		}
	case onnxpb.TensorProto_INT32:
		if raw != nil {
			if len(raw) != 4*n {
				return nil, fmt.Errorf("tensor %q: %d bytes of int32 for shape %v", t.GetName(), len(raw), out.dims)
			}
			out.i = make([]int64, n)
			for k := range out.i {
				out.i[k] = int64(int32(binary.LittleEndian.Uint32(raw[4*k:])))
			}
		} else {
			if err := want(len(t.GetInt32Data()), 1); err != nil {
				return nil, err
			}
			out.i = make([]int64, n)
			for k, v := range t.GetInt32Data() {
				out.i[k] = int64(v)
			}
		}
	default:
		return nil, fmt.Errorf("tensor %q has data type %v; float, double, int32 and int64 are supported", t.GetName(), dt)
	}
	for _, v := range out.f {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("tensor %q holds a non-finite value", t.GetName())
		}
	}
	return out, nil
}

// float32Tensor encodes v with shape dims as a float32 initializer.
func float32Tensor(name string, dims []int, v []float64) *onnxpb.TensorProto {
	raw := make([]byte, 4*len(v))
	for k, x := range v {
		binary.LittleEndian.PutUint32(raw[4*k:], math.Float32bits(float32(x)))
	}
	d := make([]int64, len(dims))
	for k, x := range dims {
		d[k] = int64(x)
	}
	dt := int32(onnxpb.TensorProto_FLOAT)
	return &onnxpb.TensorProto{Name: &name, Dims: d, DataType: &dt, RawData: raw}
}
