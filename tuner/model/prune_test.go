package model_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/fhetune/fhetune/tuner/model"
)

// TestPruneStructuredDigits is the bar: removing half of the hidden neurons of a
// trained digits MLP and fine-tuning keeps at least 90% test accuracy.
func TestPruneStructuredDigits(t *testing.T) {
	d := loadDigits(t)
	net := d.build(t, "mlp:64,64", 1)
	d.train1(t, net, model.TrainConfig{Seed: 1})
	base := d.accuracy(t, net, d.test)
	before, _ := net.MarshalBinary()

	pruned, err := model.PruneStructured(net, 0.5, model.L2)
	if err != nil {
		t.Fatal(err)
	}
	if after, _ := net.MarshalBinary(); string(before) != string(after) {
		t.Error("PruneStructured changed its input network")
	}
	shapes, err := pruned.Shapes()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int{{64}, {32}, {32}, {32}, {32}, {10}}
	if !slices.EqualFunc(shapes, want, slices.Equal) {
		t.Errorf("pruned shapes %v, want %v", shapes, want)
	}
	raw := d.accuracy(t, pruned, d.test)
	d.train1(t, pruned, model.TrainConfig{Seed: 1, Epochs: 30})
	tuned := d.accuracy(t, pruned, d.test)
	t.Logf("test accuracy: trained %.4f, pruned %.4f, fine-tuned %.4f", base, raw, tuned)
	if tuned < 0.90 {
		t.Errorf("fine-tuned accuracy after 50%% structured pruning %.4f < 0.90", tuned)
	}
}

// zeroUnits zeroes the incoming weights and the bias of the given outputs of a layer.
func zeroUnits(l model.Layer, units ...int) {
	var w *mat.Dense
	var b []float64
	switch l := l.(type) {
	case *model.Linear:
		w, b = l.W, l.B
	case *model.Conv2d:
		w, b = l.W, l.B
	}
	for _, u := range units {
		clear(w.RawRowView(u))
		b[u] = 0
	}
}

func randomBatch(seed uint64, r, c int) *mat.Dense {
	rng := rand.New(rand.NewPCG(seed, 1))
	m := mat.NewDense(r, c, nil)
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			m.Set(i, j, rng.NormFloat64())
		}
	}
	return m
}

func randomBiases(net *model.Network, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 2))
	for _, l := range net.Layers {
		var b []float64
		switch l := l.(type) {
		case *model.Linear:
			b = l.B
		case *model.Conv2d:
			b = l.B
		}
		for i := range b {
			b[i] = 0.1 * rng.NormFloat64()
		}
	}
}

// TestPruneStructuredExact removes units that contribute nothing (zero weights and bias)
// and checks that the pruned network computes exactly the same logits: the bookkeeping
// of rows, columns, channel blocks after Flatten and pool channel counts is right.
func TestPruneStructuredExact(t *testing.T) {
	cases := []struct {
		name  string
		spec  string
		shape []int
		dead  map[int][]int // layer index → units to silence
		frac  float64
		want  [][]int // shapes after pruning
	}{
		{"mlp", "mlp:8,4", []int{6}, map[int][]int{0: {1, 4}, 2: {3}}, 0.25,
			[][]int{{6}, {6}, {3}, {3}, {3}}},
		{"cnn", "cnn:c8k3p1,pool2,c4k3s1p1,fc8", []int{2, 6, 6}, map[int][]int{0: {0, 5}, 3: {2}, 6: {1, 6}}, 0.25,
			[][]int{{6, 6, 6}, {6, 6, 6}, {6, 3, 3}, {3, 3, 3}, {3, 3, 3}, {27}, {6}, {6}, {3}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			net, err := model.Build(tc.spec, tc.shape, 3, 4)
			if err != nil {
				t.Fatal(err)
			}
			randomBiases(net, 4)
			for li, units := range tc.dead {
				zeroUnits(net.Layers[li], units...)
			}
			x := randomBatch(9, 5, net.InSize())
			want := net.Forward(x)
			for _, norm := range []model.Norm{model.L1, model.L2} {
				pruned, err := model.PruneStructured(net, tc.frac, norm)
				if err != nil {
					t.Fatal(err)
				}
				shapes, err := pruned.Shapes()
				if err != nil {
					t.Fatal(err)
				}
				if !slices.EqualFunc(shapes, tc.want, slices.Equal) {
					t.Errorf("%v: shapes %v, want %v", norm, shapes, tc.want)
				}
				if got := pruned.Forward(x); !mat.EqualApprox(got, want, 1e-12) {
					t.Errorf("%v: pruned logits differ:\n%v\nwant\n%v", norm, mat.Formatted(got), mat.Formatted(want))
				}
			}
		})
	}
}

// TestPruneStructuredNorm: L1 and L2 rank units differently.
func TestPruneStructuredNorm(t *testing.T) {
	// Unit 0 has weights (3,0,0,0): L1 3, L2 3. Unit 1 has (1,1,1,1): L1 4, L2 2.
	l1 := &model.Linear{W: mat.NewDense(2, 4, []float64{3, 0, 0, 0, 1, 1, 1, 1}), B: []float64{0, 0}}
	l2 := &model.Linear{W: mat.NewDense(2, 2, []float64{1, 2, 3, 4}), B: []float64{0, 0}}
	net := &model.Network{InShape: []int{4}, Classes: 2, Layers: []model.Layer{l1, model.ReLU{}, l2}}
	for _, tc := range []struct {
		norm         model.Norm
		keptW, nextW []float64
	}{
		{model.L1, []float64{1, 1, 1, 1}, []float64{2, 4}},
		{model.L2, []float64{3, 0, 0, 0}, []float64{1, 3}},
	} {
		p, err := model.PruneStructured(net, 0.5, tc.norm)
		if err != nil {
			t.Fatal(err)
		}
		first, next := p.Layers[0].(*model.Linear), p.Layers[2].(*model.Linear)
		if got := first.W.RawMatrix().Data; !slices.Equal(got, tc.keptW) {
			t.Errorf("%v: kept weights %v, want %v", tc.norm, got, tc.keptW)
		}
		if got := mat.DenseCopyOf(next.W).RawMatrix().Data; !slices.Equal(got, tc.nextW) {
			t.Errorf("%v: next layer weights %v, want %v", tc.norm, got, tc.nextW)
		}
	}
}

func TestPruneStructuredKeepsOutputAndOne(t *testing.T) {
	net, err := model.Build("mlp:3", []int{5}, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	p, err := model.PruneStructured(net, 0.99, model.L1)
	if err != nil {
		t.Fatal(err)
	}
	shapes, _ := p.Shapes()
	if want := [][]int{{1}, {1}, {4}}; !slices.EqualFunc(shapes, want, slices.Equal) {
		t.Errorf("shapes %v, want %v (one hidden unit left, all 4 outputs kept)", shapes, want)
	}
	lin, _ := model.Build("mlp:", []int{5}, 4, 1)
	p, err = model.PruneStructured(lin, 0.5, model.L2)
	if err != nil {
		t.Fatal(err)
	}
	if p.NumParams() != lin.NumParams() {
		t.Error("a linear classifier lost parameters: the output layer must never be pruned")
	}
}

func TestPruneUnstructured(t *testing.T) {
	d := loadDigits(t)
	net := d.build(t, "cnn:c4k3p1,pool2,fc16", 1)
	d.train1(t, net, model.TrainConfig{Seed: 1, Epochs: 10, LearningRate: 3e-3})
	base := d.accuracy(t, net, d.test)
	before, _ := net.MarshalBinary()
	p, err := model.PruneUnstructured(net, 0.6)
	if err != nil {
		t.Fatal(err)
	}
	if after, _ := net.MarshalBinary(); string(before) != string(after) {
		t.Error("PruneUnstructured changed its input network")
	}
	for i, l := range p.Layers {
		var w *mat.Dense
		var mask []bool
		switch l := l.(type) {
		case *model.Linear:
			w, mask = l.W, l.Mask
		case *model.Conv2d:
			w, mask = l.W, l.Mask
		default:
			continue
		}
		data := mat.DenseCopyOf(w).RawMatrix().Data
		n, z := model.LayerSparsity(l)
		if wantZ := int(math.Round(0.6 * float64(n))); z != wantZ {
			t.Errorf("layer %d: %d of %d weights zero, want %d", i, z, n, wantZ)
		}
		orig := mat.DenseCopyOf(weightsOfLayer(net.Layers[i])).RawMatrix().Data
		maxPruned, minKept := 0.0, math.Inf(1)
		for k, keep := range mask {
			if keep {
				minKept = min(minKept, math.Abs(orig[k]))
			} else {
				maxPruned = max(maxPruned, math.Abs(orig[k]))
				if data[k] != 0 {
					t.Errorf("layer %d weight %d masked but %v", i, k, data[k])
				}
			}
		}
		if maxPruned > minKept {
			t.Errorf("layer %d: pruned a weight of magnitude %v but kept one of %v", i, maxPruned, minKept)
		}
	}
	// Fine-tuning keeps the mask.
	raw := d.accuracy(t, p, d.test)
	d.train1(t, p, model.TrainConfig{Seed: 1, Epochs: 5, LearningRate: 3e-3})
	w, z := p.Sparsity()
	if got := float64(z) / float64(w); math.Abs(got-0.6) > 0.01 {
		t.Errorf("sparsity after fine-tuning %.4f, want 0.6", got)
	}
	if err := p.Validate(); err != nil {
		t.Errorf("fine-tuned network invalid (a masked weight moved?): %v", err)
	}
	acc := d.accuracy(t, p, d.test)
	t.Logf("test accuracy: trained %.4f, 60%% sparse %.4f, fine-tuned %.4f", base, raw, acc)
	if acc < 0.85 {
		t.Errorf("60%% sparse fine-tuned cnn: test accuracy %.4f < 0.85", acc)
	}

	// A lower target keeps the existing, sparser mask; structured pruning carries it.
	q, err := model.PruneUnstructured(p, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	if w2, z2 := q.Sparsity(); w2 != w || z2 < z {
		t.Errorf("re-pruning at 0.2: %d of %d zero, want at least %d", z2, w2, z)
	}
	s, err := model.PruneStructured(q, 0.5, model.L1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if w3, z3 := s.Sparsity(); float64(z3)/float64(w3) < 0.5 {
		t.Errorf("masks lost in structured pruning: sparsity %d/%d", z3, w3)
	}
}

func weightsOfLayer(l model.Layer) *mat.Dense {
	switch l := l.(type) {
	case *model.Linear:
		return l.W
	case *model.Conv2d:
		return l.W
	}
	return nil
}

func TestPruneBadInput(t *testing.T) {
	net, _ := model.Build("mlp:4", []int{3}, 2, 1)
	for _, v := range []float64{-0.1, 1, math.NaN(), math.Inf(1)} {
		if _, err := model.PruneStructured(net, v, model.L2); !errors.Is(err, model.ErrPrune) {
			t.Errorf("PruneStructured(%v): error %v, want ErrPrune", v, err)
		}
		if _, err := model.PruneUnstructured(net, v); !errors.Is(err, model.ErrPrune) {
			t.Errorf("PruneUnstructured(%v): error %v, want ErrPrune", v, err)
		}
	}
	if _, err := model.PruneStructured(net, 0.5, model.Norm(3)); !errors.Is(err, model.ErrPrune) {
		t.Errorf("norm 3: error %v, want ErrPrune", err)
	}
	if _, err := model.ParseNorm("l3"); !errors.Is(err, model.ErrPrune) {
		t.Errorf("ParseNorm(l3): error %v, want ErrPrune", err)
	}
	if n, err := model.ParseNorm(" L1 "); err != nil || n != model.L1 {
		t.Errorf("ParseNorm(L1) = %v, %v", n, err)
	}
}

// TestPruneStructuredNewLayers removes dead channels and neurons across a max pool and
// activations (leaky ReLU, tanh, GELU all map 0 to 0) and checks that the logits do not
// change, with the max pool's channel count shrunk.
func TestPruneStructuredNewLayers(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	c1 := &model.Conv2d{OutC: 4, InC: 2, KH: 3, KW: 3, Stride: 1, Pad: 2, InH: 6, InW: 6, Dilation: 2,
		W: mat.NewDense(4, 18, nil), B: make([]float64, 4)}
	l1, l2 := model.NewLinear(4, 36), model.NewLinear(3, 4)
	for _, s := range [][]float64{c1.W.RawMatrix().Data, c1.B, l1.W.RawMatrix().Data, l1.B, l2.W.RawMatrix().Data, l2.B} {
		for i := range s {
			s[i] = rng.NormFloat64()
		}
	}
	net := &model.Network{InShape: []int{2, 6, 6}, Classes: 3, Layers: []model.Layer{
		c1, model.Activation{Func: model.LeakyReLU, Alpha: 0.2}, &model.MaxPool2d{K: 2, Stride: 2, C: 4, InH: 6, InW: 6},
		model.Activation{Func: model.Tanh}, model.Flatten{}, l1, model.Activation{Func: model.GELU}, l2,
	}}
	zeroUnits(c1, 1)
	zeroUnits(l1, 2)
	x := randomBatch(33, 5, net.InSize())
	want := net.Forward(x)
	pruned, err := model.PruneStructured(net, 0.25, model.L2)
	if err != nil {
		t.Fatal(err)
	}
	shapes, _ := pruned.Shapes()
	wantShapes := [][]int{{3, 6, 6}, {3, 6, 6}, {3, 3, 3}, {3, 3, 3}, {27}, {3}, {3}, {3}}
	if !slices.EqualFunc(shapes, wantShapes, slices.Equal) {
		t.Errorf("shapes %v, want %v", shapes, wantShapes)
	}
	if got := pruned.Forward(x); !mat.EqualApprox(got, want, 1e-12) {
		t.Errorf("pruned logits differ")
	}
	if c := pruned.Layers[0].(*model.Conv2d); c.Dilation != 2 {
		t.Errorf("dilation %d after pruning, want 2", c.Dilation)
	}
}

// TestPruneStructuredGrouped: a boundary next to a grouped convolution is refused with
// ErrPrune naming the layer, unless the share removes nothing there.
func TestPruneStructuredGrouped(t *testing.T) {
	c1 := model.NewConv2d(4, 2, 3, 3, 1, 1, 4, 4)
	c2 := &model.Conv2d{OutC: 4, InC: 4, KH: 3, KW: 3, Stride: 1, Pad: 1, InH: 4, InW: 4, Groups: 2,
		W: mat.NewDense(4, 18, nil), B: make([]float64, 4)}
	lin := model.NewLinear(2, 64)
	net := &model.Network{InShape: []int{2, 4, 4}, Classes: 2, Layers: []model.Layer{
		c1, model.ReLU{}, c2, model.ReLU{}, model.Flatten{}, lin}}
	_, err := model.PruneStructured(net, 0.5, model.L1)
	if !errors.Is(err, model.ErrPrune) || !strings.Contains(err.Error(), "layer 2 (conv2d with 2 groups)") ||
		!strings.Contains(err.Error(), "grouped convolutions are not pruned") {
		t.Errorf("error %v, want ErrPrune naming layer 2", err)
	}
	// round(0.1·4) = 0: nothing is removed, nothing fails.
	p, err := model.PruneStructured(net, 0.1, model.L1)
	if err != nil || p.NumParams() != net.NumParams() {
		t.Errorf("pruning nothing: %v", err)
	}
}
