package onnxpb_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/fhetune/fhetune/tuner/onnx/onnxpb"
)

// TestUnmarshalPyTorchExport decodes a model exported by torch.onnx.export
// (../testdata/gen.py) and checks its graph as the exporter wrote it.
func TestUnmarshalPyTorchExport(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "cnn.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		t.Fatalf("unmarshal cnn.onnx: %v", err)
	}
	if got := m.GetProducerName(); got != "pytorch" {
		t.Errorf("producer_name = %q, want pytorch", got)
	}
	if len(m.GetOpsetImport()) != 1 || m.GetOpsetImport()[0].GetVersion() != 11 {
		t.Errorf("opset_import = %v, want one entry of version 11", m.GetOpsetImport())
	}
	g := m.GetGraph()
	var ops []string
	for _, n := range g.GetNode() {
		ops = append(ops, n.GetOpType())
	}
	want := []string{
		"Conv", "BatchNormalization", "Relu", "Constant", "Pad", "AveragePool",
		"Conv", "Relu", "Constant", "Pad", "AveragePool", "Flatten", "Gemm",
	}
	if !slices.Equal(ops, want) {
		t.Errorf("op types = %v, want %v", ops, want)
	}
	if len(g.GetInput()) != 1 || g.GetInput()[0].GetName() != "input" {
		t.Fatalf("graph inputs = %v, want one named input", g.GetInput())
	}
	var dims []int64
	for _, d := range g.GetInput()[0].GetType().GetTensorType().GetShape().GetDim() {
		dims = append(dims, d.GetDimValue())
	}
	if !slices.Equal(dims, []int64{1, 1, 8, 8}) {
		t.Errorf("input shape = %v, want [1 1 8 8]", dims)
	}
	if len(g.GetInitializer()) != 10 {
		t.Errorf("%d initializers, want 10 (2 conv, 4 batchnorm, 2 conv, 2 gemm)", len(g.GetInitializer()))
	}
}
