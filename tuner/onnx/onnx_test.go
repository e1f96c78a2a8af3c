package onnx_test

import (
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
	"google.golang.org/protobuf/proto"

	"github.com/fhetune/fhetune/tuner/model"
	"github.com/fhetune/fhetune/tuner/onnx"
	"github.com/fhetune/fhetune/tuner/onnx/onnxpb"
)

// fixture is a NAME.logits.json written by testdata/gen.py: inputs and PyTorch's
// outputs for them.
type fixture struct {
	InputShape []int       `json:"input_shape"`
	Inputs     [][]float64 `json:"inputs"`
	Logits     [][]float64 `json:"logits"`
}

func readFixture(t *testing.T, name string) fixture {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name+".logits.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

func rows(v [][]float64) *mat.Dense {
	m := mat.NewDense(len(v), len(v[0]), nil)
	for i, r := range v {
		m.SetRow(i, r)
	}
	return m
}

func softmax(r []float64) []float64 {
	mx := math.Inf(-1)
	for _, v := range r {
		mx = max(mx, v)
	}
	out, sum := make([]float64, len(r)), 0.0
	for k, v := range r {
		out[k] = math.Exp(v - mx)
		sum += out[k]
	}
	for k := range out {
		out[k] /= sum
	}
	return out
}

// TestReadFixtures reads every network PyTorch exported and compares fhetune's float
// forward pass with PyTorch's outputs (float32 there, so within 1e-5).
func TestReadFixtures(t *testing.T) {
	for _, c := range []struct {
		name    string
		kinds   string
		softmax bool
	}{
		{"mlp", "linear relu linear relu linear", false},
		{"cnn", "conv2d relu avgpool2d conv2d relu avgpool2d flatten linear", false},
		{"reshape", "flatten linear", false},
		{"ops", "conv2d leaky_relu conv2d sigmoid maxpool2d conv2d tanh avgpool2d flatten linear gelu linear", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			net, err := onnx.Read(filepath.Join("testdata", c.name+".onnx"))
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, l := range net.Layers {
				kinds = append(kinds, l.Kind())
			}
			if got := strings.Join(kinds, " "); got != c.kinds {
				t.Errorf("layers %q, want %q", got, c.kinds)
			}
			f := readFixture(t, c.name)
			if net.InSize() != len(f.Inputs[0]) || net.Standardizer != nil {
				t.Fatalf("input shape %v (standardizer %v), fixture rows of %d", net.InShape, net.Standardizer != nil, len(f.Inputs[0]))
			}
			got := net.Logits(rows(f.Inputs))
			for i, want := range f.Logits {
				r := got.RawRowView(i)
				if c.softmax {
					r = softmax(r)
				}
				for k := range want {
					if math.Abs(r[k]-want[k]) > 1e-5 {
						t.Fatalf("row %d: %v, PyTorch %v", i, r, want)
					}
				}
			}
		})
	}
}

// TestRoundTrip writes fhetune networks as ONNX and reads them back: the same layers and
// the same logits up to float32 rounding; writing what was read gives the same bytes.
func TestRoundTrip(t *testing.T) {
	for _, name := range []string{"mlp", "cnn", "ops"} {
		t.Run(name, func(t *testing.T) {
			net, err := onnx.Read(filepath.Join("testdata", name+".onnx"))
			if err != nil {
				t.Fatal(err)
			}
			// A standardizer, as fhetune's own networks have.
			s := &model.Standardizer{Mean: make([]float64, net.InSize()), Std: make([]float64, net.InSize())}
			for k := range s.Mean {
				s.Mean[k], s.Std[k] = 0.1*float64(k%7), 1+0.25*float64(k%3)
			}
			net.Standardizer = s
			path := filepath.Join(t.TempDir(), "net.onnx")
			if err := onnx.Write(path, net); err != nil {
				t.Fatal(err)
			}
			back, err := onnx.Read(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(back.Layers) != len(net.Layers) || back.Standardizer == nil || back.Classes != net.Classes {
				t.Fatalf("read back %d layers (standardizer %v), wrote %d", len(back.Layers), back.Standardizer != nil, len(net.Layers))
			}
			x := rows(readFixture(t, name).Inputs)
			a, b := net.Logits(x), back.Logits(x)
			r, c := a.Dims()
			for i := range r {
				for j := range c {
					if d := math.Abs(a.At(i, j) - b.At(i, j)); d > 1e-4*max(1, math.Abs(a.At(i, j))) {
						t.Fatalf("logit (%d, %d): %g written, %g read back", i, j, a.At(i, j), b.At(i, j))
					}
				}
			}
			one, err := onnx.Encode(back)
			if err != nil {
				t.Fatal(err)
			}
			again, err := onnx.Decode(one, "again")
			if err != nil {
				t.Fatal(err)
			}
			two, err := onnx.Encode(again)
			if err != nil {
				t.Fatal(err)
			}
			if string(one) != string(two) {
				t.Error("encoding a read-back network twice gives different bytes")
			}
		})
	}
}

// TestReadErrors checks that each unsupported or malformed input gives its error.
func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile(filepath.Join("testdata", "mlp.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		name, path string
		is         error
		want       string
	}{
		{"unsupported op", filepath.Join("testdata", "unsupported.onnx"), onnx.ErrUnsupported, `(Cos): operator Cos is not supported; supported: Gemm`},
		{"truncated", write("trunc.onnx", good[:len(good)/2]), onnx.ErrFormat, "byte "},
		{"garbage", write("garbage.onnx", []byte("this is not a protobuf at all \xff\xff\xff")), onnx.ErrFormat, "not an ONNX model"},
		{"empty", write("empty.onnx", nil), onnx.ErrFormat, "no graph"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := onnx.Read(c.path)
			if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.path) {
				t.Errorf("error %v, want %v containing %q and the path", err, c.is, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
	if _, err := onnx.Read(filepath.Join(dir, "missing.onnx")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestReadStructureErrors edits the MLP fixture into models the reader must refuse,
// each with its reason.
func TestReadStructureErrors(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "mlp.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		edit func(m *onnxpb.ModelProto)
		want string
	}{
		{"old opset", func(m *onnxpb.ModelProto) { m.OpsetImport[0].Version = proto.Int64(9) }, "opset 9 of the default domain; opsets 11 to 18"},
		{"output inside the chain", func(m *onnxpb.ModelProto) {
			m.Graph.Output[0].Name = proto.String(m.Graph.Node[1].Output[0])
		}, "is not the end of the chain"},
		{"two inputs", func(m *onnxpb.ModelProto) {
			in := proto.Clone(m.Graph.Input[0]).(*onnxpb.ValueInfoProto)
			in.Name = proto.String("second")
			m.Graph.Input = append(m.Graph.Input, in)
		}, "2 graph inputs"},
		{"unknown op", func(m *onnxpb.ModelProto) { m.Graph.Node[1].OpType = proto.String("LSTM") }, "operator LSTM is not supported"},
		{"transA", func(m *onnxpb.ModelProto) {
			tp := onnxpb.AttributeProto_INT
			m.Graph.Node[0].Attribute = append(m.Graph.Node[0].Attribute, &onnxpb.AttributeProto{Name: proto.String("transA"), Type: &tp, I: proto.Int64(1)})
		}, "transA = 1"},
		{"weight not constant", func(m *onnxpb.ModelProto) { m.Graph.Node[0].Input[1] = "nowhere" }, `weight "nowhere" is not a constant`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var m onnxpb.ModelProto
			if err := proto.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			c.edit(&m)
			b, err := proto.Marshal(&m)
			if err != nil {
				t.Fatal(err)
			}
			_, err = onnx.Decode(b, "edited.onnx")
			if !errors.Is(err, onnx.ErrUnsupported) || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "onnx: edited.onnx") {
				t.Errorf("error %v, want ErrUnsupported containing %q", err, c.want)
			}
		})
	}
}

// TestCommittedExports checks that the files fhetune wrote into testdata, which
// gen.py runs through onnx's checker, are still exactly what Encode writes: the ops
// fixture read and written, and the exported digits CNN read and written again.
func TestCommittedExports(t *testing.T) {
	for _, c := range []struct{ from, written string }{
		{"ops.onnx", "fhetune_ops.onnx"},
		{"fhetune_cnn.onnx", "fhetune_cnn.onnx"},
	} {
		net, err := onnx.Read(filepath.Join("testdata", c.from))
		if err != nil {
			t.Fatal(err)
		}
		got, err := onnx.Encode(net)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join("testdata", c.written))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("writing %s no longer gives %s (regenerate it as testdata/README.md says)", c.from, c.written)
		}
	}
}

// TestDropoutIdentityRemoved inserts a Dropout (as PyTorch writes it in training-mode
// exports, with its mask output unused) and an Identity after the CNN fixture's first
// Relu: the reader drops both, so the layers and logits stay PyTorch's.
func TestDropoutIdentityRemoved(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "cnn.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	g := m.Graph
	at := -1
	for i, n := range g.Node {
		if n.GetOpType() == "Relu" {
			at = i
			break
		}
	}
	relu := g.Node[at].Output[0]
	for _, n := range g.Node[at+1:] {
		for k, in := range n.Input {
			if in == relu {
				n.Input[k] = "after_identity"
			}
		}
	}
	ft := onnxpb.AttributeProto_FLOAT
	ins := []*onnxpb.NodeProto{
		{OpType: proto.String("Dropout"), Name: proto.String("drop"), Input: []string{relu}, Output: []string{"after_dropout", "dropout_mask"},
			Attribute: []*onnxpb.AttributeProto{{Name: proto.String("ratio"), Type: &ft, F: proto.Float32(0.2)}}},
		{OpType: proto.String("Identity"), Name: proto.String("ident"), Input: []string{"after_dropout"}, Output: []string{"after_identity"}},
	}
	g.Node = append(g.Node[:at+1], append(ins, g.Node[at+1:]...)...)
	b, err := proto.Marshal(&m)
	if err != nil {
		t.Fatal(err)
	}
	net, err := onnx.Decode(b, "dropout.onnx")
	if err != nil {
		t.Fatal(err)
	}
	orig, err := onnx.Read(filepath.Join("testdata", "cnn.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if len(net.Layers) != len(orig.Layers) {
		t.Fatalf("%d layers, the fixture has %d", len(net.Layers), len(orig.Layers))
	}
	x := rows(readFixture(t, "cnn").Inputs)
	if !mat.Equal(net.Logits(x), orig.Logits(x)) {
		t.Error("logits changed by Dropout and Identity")
	}
}

// TestWriteQuantized checks that a quantization-aware network is refused, not written
// without its quantizers, and that no file is left behind.
func TestWriteQuantized(t *testing.T) {
	net, err := model.Build("mlp:16", []int{8}, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	calib := mat.NewDense(32, 8, nil)
	for i := range 32 {
		for j := range 8 {
			calib.Set(i, j, rng.NormFloat64())
		}
	}
	q, err := model.PrepareQAT(net, calib, model.QATConfig{NWBits: 3, NABits: 3, PowerOfTwo: true, AccumBits: 12})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "qat.onnx")
	err = onnx.Write(path, q)
	if err == nil || !strings.Contains(err.Error(), "onnx: encode: a quantization-aware network") {
		t.Errorf("writing a quantization-aware network: error %v, want one saying it has no ONNX export", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a failed write left %s (stat: %v)", path, err)
	}
	if _, err := onnx.Encode(net); err != nil {
		t.Errorf("the float network it was made from: %v", err)
	}
}
