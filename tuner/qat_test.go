package tuner_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/fhetune/fhetune/fhe/circuit"
	"github.com/fhetune/fhetune/studies"
	"github.com/fhetune/fhetune/tuner"
	"github.com/fhetune/fhetune/tuner/model"
)

// qatNetwork trains a quantization-aware network from a small network of spec on the
// digits task for a few epochs.
func qatNetwork(t *testing.T, spec string, cfg model.QATConfig) (*model.Network, tuner.Task) {
	t.Helper()
	ds, task := digitsTask(t)
	base := task.Base
	if spec == maxPoolNet {
		base = maxPoolNetwork(t, task)
	} else if spec != tuner.DefaultMLPSpec {
		var err error
		if base, err = tuner.TrainBase(context.Background(), spec, ds, task, model.TrainConfig{Epochs: 3, Seed: 1}); err != nil {
			t.Fatal(err)
		}
	}
	net, err := model.PrepareQAT(base, task.Calib.X, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := model.Train(context.Background(), net, task.Train, task.Val, model.TrainConfig{Epochs: 3, Patience: -1, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	return net, task
}

// maxPoolNet stands for a network with a max pool, which no spec builds.
const maxPoolNet = "conv-relu-maxpool-fc"

// maxPoolNetwork trains conv(4, 3×3, pad 1) → ReLU → max pool 2 → fc16 → ReLU → fc10
// on digits for a few epochs.
func maxPoolNetwork(t *testing.T, task tuner.Task) *model.Network {
	t.Helper()
	net := &model.Network{InShape: []int{1, 8, 8}, Classes: 10, Standardizer: task.Base.Standardizer, Layers: []model.Layer{
		model.NewConv2d(4, 1, 3, 3, 1, 1, 8, 8), model.ReLU{}, &model.MaxPool2d{K: 2, Stride: 2, C: 4, InH: 8, InW: 8},
		model.Flatten{}, model.NewLinear(16, 64), model.ReLU{}, model.NewLinear(10, 16)}}
	seed := 1.0
	for _, l := range net.Layers {
		var w *mat.Dense
		switch l := l.(type) {
		case *model.Linear:
			w = l.W
		case *model.Conv2d:
			w = l.W
		default:
			continue
		}
		r, c := w.Dims()
		for i := 0; i < r; i++ {
			for j := 0; j < c; j++ {
				seed = seed*1.37 + 0.11
				seed -= float64(int(seed))
				w.Set(i, j, (seed-0.5)/float64(c)*4)
			}
		}
	}
	if _, err := model.Train(context.Background(), net, task.Train, task.Val, model.TrainConfig{Epochs: 5, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	return net
}

// compileQAT compiles a quantization-aware network with its own quantizers.
func compileQAT(t *testing.T, net *model.Network, task tuner.Task, cfg circuit.Config) *circuit.Circuit {
	t.Helper()
	cn, err := tuner.CircuitNetwork(net)
	if err != nil {
		t.Fatal(err)
	}
	c, err := circuit.Compile(cn, net.Standardize(task.Calib.X), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestQATMatchesCircuit checks that a quantization-aware network computes exactly what
// its compiled circuit computes: on every calibration sample, each quantizer's integers equal
// the circuit's TLU outputs, layer by layer, and the logits are equal.
func TestQATMatchesCircuit(t *testing.T) {
	for _, spec := range []string{tuner.DefaultMLPSpec, "cnn:c4k3p1,pool2,c6k3p1,pool2,fc16", maxPoolNet} {
		for _, pot := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/pot=%t", spec, pot), func(t *testing.T) {
				net, task := qatNetwork(t, spec, model.QATConfig{NWBits: 3, NABits: 3, PowerOfTwo: pot})
				c := compileQAT(t, net, task, circuit.Config{NWBits: 3, NABits: 3})
				x := net.Standardize(task.Calib.X)
				accs, outs := c.TLUOutputs(c.QuantizeInputs(x))
				var quants []*mat.Dense
				var qs []*model.Quant
				for i, o := range net.Outputs(x) {
					if q, ok := net.Layers[i].(*model.Quant); ok {
						quants, qs = append(quants, o), append(qs, q)
					}
				}
				k := 1 // the first quantizer is the circuit's input quantizer
				for i, l := range c.Layers[:c.TLULayers()] {
					if l.Op == "maxpool" {
						continue // the comparisons have no quantizer of their own
					}
					if k >= len(qs) {
						t.Fatalf("circuit layer %s has no quantizer in the network", l.Name)
					}
					qz := qs[k].Quantizer()
					r, cols := quants[k].Dims()
					for s := 0; s < r; s++ {
						for j := 0; j < cols; j++ {
							if got, want := outs[i].At(s, j), float64(qz.Quantize(quants[k].At(s, j))); got != want {
								t.Fatalf("layer %s, sample %d, element %d: circuit %v, network %v", l.Name, s, j, got, want)
							}
						}
					}
					k++
				}
				if k != len(qs) {
					t.Errorf("the network has %d quantizers, the circuit used %d", len(qs), k)
				}
				want := net.Forward(x)
				got := c.Logits(accs[len(accs)-1])
				if !mat.Equal(got, want) {
					t.Error("the circuit's logits differ from the network's")
				}
			})
		}
	}
}

// TestAccumulatorBitsFit checks that with n_accum_bits every accumulator of the
// compiled circuit fits that width on the calibration data.
func TestAccumulatorBitsFit(t *testing.T) {
	for _, pot := range []bool{false, true} {
		const bits = 7
		net, task := qatNetwork(t, tuner.DefaultMLPSpec, model.QATConfig{NWBits: 3, NABits: 3, PowerOfTwo: pot, AccumBits: bits})
		c := compileQAT(t, net, task, circuit.Config{NWBits: 3, NABits: 3})
		for _, l := range c.Layers {
			if l.AccumulatorBits > bits {
				t.Errorf("pot=%t: layer %s has a %d-bit accumulator (%d..%d), more than n_accum_bits %d", pot, l.Name, l.AccumulatorBits, l.AccMin, l.AccMax, bits)
			}
		}
		// Without the bound the same training needs wider accumulators, so the bound
		// did something.
		wide, _ := qatNetwork(t, tuner.DefaultMLPSpec, model.QATConfig{NWBits: 3, NABits: 3, PowerOfTwo: pot})
		cw := compileQAT(t, wide, task, circuit.Config{NWBits: 3, NABits: 3})
		widest := 0
		for _, l := range cw.Layers {
			widest = max(widest, l.AccumulatorBits)
		}
		if widest <= bits {
			t.Errorf("pot=%t: the unpruned circuit's widest accumulator has %d bits: the test's bound %d prunes nothing", pot, widest, bits)
		}
	}
}

// TestPowerOfTwoRoundingIsLossless checks Compile's power-of-two pass: it rounds the
// accumulators before ReLUs, the rounded TLUs are narrower, and on every calibration
// sample every TLU output equals the unrounded circuit's (rounding_threshold_bits 8
// turns the pass off, and rounds nothing when no accumulator is wider than 8 bits).
func TestPowerOfTwoRoundingIsLossless(t *testing.T) {
	net, task := qatNetwork(t, tuner.DefaultMLPSpec, model.QATConfig{NWBits: 3, NABits: 3, PowerOfTwo: true})
	rounded := compileQAT(t, net, task, circuit.Config{NWBits: 3, NABits: 3})
	plain := compileQAT(t, net, task, circuit.Config{NWBits: 3, NABits: 3, RoundingThresholdBits: 8})
	narrower := 0
	for i, l := range plain.Layers[:plain.TLULayers()] {
		if l.LSBsRemoved != 0 {
			t.Fatalf("the reference circuit rounds layer %s", l.Name)
		}
		r := rounded.Layers[i]
		if r.PowerOfTwo {
			// The accumulator's encoding holds the rounded values (the executor encodes
			// it at AccumulatorBits and reads the TLU index from its top bits).
			if b, _ := circuit.BitWidth(circuit.RoundLSBs(r.AccMin, r.LSBsRemoved), circuit.RoundLSBs(r.AccMax, r.LSBsRemoved)); b > r.AccumulatorBits {
				t.Errorf("layer %s: rounded accumulators need %d bits, the layer encodes %d", l.Name, b, r.AccumulatorBits)
			}
			if r.TLUBits >= l.TLUBits {
				t.Errorf("layer %s: rounded TLU has %d bits, unrounded %d", l.Name, r.TLUBits, l.TLUBits)
			}
			narrower++
		}
	}
	if narrower == 0 {
		t.Fatal("the power-of-two pass rounded no layer")
	}
	q := rounded.QuantizeInputs(net.Standardize(task.Calib.X))
	_, ro := rounded.TLUOutputs(q)
	_, po := plain.TLUOutputs(q)
	for i := range rounded.TLULayers() {
		if !mat.Equal(ro[i], po[i]) {
			t.Errorf("layer %s: rounded and unrounded TLU outputs differ", plain.Layers[i].Name)
		}
	}
}

// TestStudyWithQAT runs a study whose space searches training (ptq, qat) and
// power_of_two_scaling: quantization-aware trials store their knobs and train once per
// training setting (a study artifact each), and a second process resuming the study
// reuses those artifacts, giving the same values.
func TestStudyWithQAT(t *testing.T) {
	dir := t.TempDir()
	spec := modelSpec(t, dir)
	spec.Trials = 10
	spec.Sampler = tuner.SamplerSpec{Sweep: 1} // every trial's network from the sampler
	spec.Space = tuner.SpaceSpec{
		NWBits: &tuner.Range{Low: 3, High: 3}, NABits: &tuner.Range{Low: 3, High: 3}, NInputBits: &tuner.Range{Low: 3, High: 3},
		Pruning: &tuner.Range{Low: 0, High: 0}, RoundingThresholdBits: &tuner.Range{OnlyOff: true},
		Training: &tuner.Choices{Values: []string{"qat", "ptq"}}, PowerOfTwoScaling: &tuner.Choices{Values: []string{"true", "false"}},
		QATEpochs: &tuner.Range{Low: 2, High: 2},
	}
	path := filepath.Join(dir, "s.db")
	db := openStore(t, path)
	if _, err := tuner.Run(context.Background(), db, newPlan(t, spec)); err != nil {
		t.Fatal(err)
	}
	st, ts := allTrials(t, db, tuner.DefaultStudyName)
	settings := map[string]bool{}
	qat, ptq := 0, 0
	for _, tr := range ts {
		if tr.State != studies.Complete {
			t.Fatalf("trial %s", trialText(tr))
		}
		k := tuner.KnobsOf(tr.Params, spec.FHE)
		if k.Training == tuner.TrainingQAT {
			qat++
			settings[fmt.Sprint(k.PowerOfTwoScaling)] = true
			if k.QATEpochs != 2 {
				t.Errorf("trial %d: qat_epochs %d, want 2", tr.Number, k.QATEpochs)
			}
		} else {
			ptq++
			if k.PowerOfTwoScaling || k.QATEpochs != 0 {
				t.Errorf("post-training trial %d keeps training knobs %+v", tr.Number, k)
			}
		}
	}
	if qat == 0 || ptq == 0 {
		t.Fatalf("%d qat and %d ptq trials: the search should try both", qat, ptq)
	}
	arts, err := db.Artifacts(context.Background(), st.ID)
	if err != nil {
		t.Fatal(err)
	}
	trained := 0
	for _, a := range arts {
		if strings.HasPrefix(a.Name, "qat ") {
			trained++
		}
	}
	if trained != len(settings) {
		t.Errorf("%d trained-network artifacts for %d training settings", trained, len(settings))
	}
	// A fresh process reuses the stored network: mark the stored copy and ask for a
	// qat trial's network.
	for _, tr := range ts {
		k := tuner.KnobsOf(tr.Params, spec.FHE)
		if k.Training != tuner.TrainingQAT {
			continue
		}
		var name string
		for _, a := range arts {
			if strings.HasPrefix(a.Name, "qat ") && strings.Contains(a.Name, fmt.Sprintf("power_of_two_scaling=%t", k.PowerOfTwoScaling)) {
				name = a.Name
			}
		}
		b, err := db.Artifact(context.Background(), st.ID, name)
		if err != nil {
			t.Fatal(err)
		}
		var stored model.Network
		if err := stored.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		stored.Meta = map[string]string{"probe": "stored"}
		if b, err = stored.MarshalBinary(); err != nil {
			t.Fatal(err)
		}
		if err := db.PutArtifact(context.Background(), st.ID, name, b); err != nil {
			t.Fatal(err)
		}
		cfg, err := tuner.ConcreteConfigOf(st, tr, nil)
		if err != nil {
			t.Fatal(err)
		}
		if m := cfg.Training; m == nil || m.Method != "qat" || m.Epochs != 2 || m.Module["module__n_w_bits"] != 3 ||
			m.Module["module__n_accum_bits"] != 32 || m.Module["module__power_of_two_scaling"] != k.PowerOfTwoScaling {
			t.Errorf("export-config of qat trial %d: %+v", tr.Number, cfg.Training)
		}
		net, _, err := tuner.TrialNetwork(context.Background(), db, tuner.DefaultStudyName, tr.Number)
		if err != nil {
			t.Fatal(err)
		}
		if net.Meta["probe"] != "stored" || !net.Quantized() {
			t.Errorf("trial %d's network was not the stored one (meta %v)", tr.Number, net.Meta)
		}
		break
	}
}
