package onnx

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/fhetune/fhetune/tuner/model"
	"github.com/fhetune/fhetune/tuner/onnx/onnxpb"
)

// Opset versions of the default domain that the reader accepts: those PyTorch 1.13 to
// 2.x export.
const (
	MinOpset = 11
	MaxOpset = 18
)

// maxFileBytes bounds the size of a model file the reader loads (1 GiB).
const maxFileBytes = 1 << 30

// Read loads the ONNX model at path as a network (see the package doc). Errors are
// [*Error]s naming the file, or wrap fs errors for a missing file.
func Read(path string) (*model.Network, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, &Error{File: path, Offset: -1, Why: "not a regular file", Err: ErrFormat}
	}
	if st.Size() > maxFileBytes {
		return nil, &Error{File: path, Offset: -1, Why: fmt.Sprintf("%d bytes, more than the %d a model may have", st.Size(), maxFileBytes), Err: ErrFormat}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	return Decode(data, path)
}

// Decode reads a serialized ONNX model; name is used in errors and as the network's
// spec ("onnx:" and the base name).
func Decode(data []byte, name string) (*model.Network, error) {
	var m onnxpb.ModelProto
	if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, &m); err != nil {
		return nil, &Error{File: name, Offset: badOffset(data), Why: "not an ONNX model (protobuf: " + err.Error() + ")", Err: ErrFormat}
	}
	if m.GetGraph() == nil || len(m.GetGraph().GetNode()) == 0 {
		return nil, &Error{File: name, Offset: -1, Why: "no graph (or an empty one): not an ONNX model", Err: ErrFormat}
	}
	opset := int64(-1)
	for _, o := range m.GetOpsetImport() {
		if o.GetDomain() == "" || o.GetDomain() == "ai.onnx" {
			opset = o.GetVersion()
		}
	}
	if opset < MinOpset || opset > MaxOpset {
		return nil, &Error{File: name, Offset: -1, Err: ErrUnsupported,
			Why: fmt.Sprintf("opset %d of the default domain; opsets %d to %d (PyTorch 1.13 to 2.x) are supported", opset, MinOpset, MaxOpset)}
	}
	b, err := newBuilder(m.GetGraph(), name, int(opset))
	if err != nil {
		return nil, err
	}
	net, err := b.build()
	if err != nil {
		return nil, err
	}
	net.Spec = "onnx:" + filepath.Base(name)
	net.Meta = map[string]string{"source": name, "opset": strconv.FormatInt(opset, 10)}
	if p := m.GetProducerName(); p != "" {
		net.Meta["producer"] = p + " " + m.GetProducerVersion()
	}
	return net, nil
}

// badOffset returns the byte offset at which data stops being a well-formed sequence of
// protobuf fields (walking the top level and, through length-delimited fields, the
// messages inside them that parse), or -1 when every field parses at the top level.
func badOffset(data []byte) int64 {
	off := int64(0)
	for len(data) > 0 {
		_, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			return off
		}
		m := protowire.ConsumeFieldValue(0, typ, data[n:])
		if m < 0 {
			return off
		}
		data = data[n+m:]
		off += int64(n + m)
	}
	return -1
}
