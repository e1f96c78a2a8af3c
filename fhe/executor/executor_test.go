package executor_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fhetune/fhetune/fhe"
	"github.com/fhetune/fhetune/fhe/calibration"
	"github.com/fhetune/fhetune/fhe/circuit"
	"github.com/fhetune/fhetune/fhe/executor"
	"gonum.org/v1/gonum/mat"
)

// smallNet is an MLP 6 → 5 → 4 → 3 with ReLUs: two TLU layers of a few neurons.
func smallNet(rng *rand.Rand) *circuit.Network {
	lin := func(out, in int) *circuit.Linear {
		l := &circuit.Linear{Out: out, In: in, W: make([]float64, out*in), B: make([]float64, out)}
		for i := range l.W {
			l.W[i] = rng.NormFloat64() / math.Sqrt(float64(in))
		}
		for i := range l.B {
			l.B[i] = 0.1 * rng.NormFloat64()
		}
		return l
	}
	return &circuit.Network{InSize: 6, Layers: []circuit.Layer{lin(5, 6), circuit.ReLU{}, lin(4, 5), circuit.ReLU{}, lin(3, 4)}}
}

// powerOfTwo gives smallNet the quantizers of a power-of-two quantization-aware
// training: 3-bit power-of-two input, weight and activation scales and integer biases,
// so that Compile rounds the accumulators before the ReLUs.
func powerOfTwo(net *circuit.Network) *circuit.Network {
	in := circuit.PowerOfTwoQuantizer(3, -3, 3)
	net.Input = &in
	for i, l := range net.Layers {
		switch l := l.(type) {
		case *circuit.Linear:
			l.Quant = &circuit.WeightQuant{Bits: 3, PowerOfTwo: true, IntBias: true}
		case circuit.ReLU:
			out := circuit.PowerOfTwoQuantizer(3, 0, 2)
			net.Layers[i] = circuit.ReLU{Out: &out}
		}
	}
	return net
}

func compileSmall(t *testing.T, cfg circuit.Config, pc circuit.ParamsConfig) (*circuit.Circuit, *circuit.Solution, *mat.Dense) {
	t.Helper()
	return compileNet(t, smallNet, cfg, pc)
}

func compileNet(t *testing.T, build func(*rand.Rand) *circuit.Network, cfg circuit.Config, pc circuit.ParamsConfig) (*circuit.Circuit, *circuit.Solution, *mat.Dense) {
	t.Helper()
	rng := rand.New(rand.NewPCG(81, 82))
	net := build(rng)
	x := mat.NewDense(200, 6, nil)
	for i := range x.RawMatrix().Data {
		x.RawMatrix().Data[i] = rng.NormFloat64()
	}
	c, err := circuit.Compile(net, x, cfg)
	if err != nil {
		t.Fatal(err)
	}
	o, err := fhe.NewOptimizer()
	if err != nil {
		t.Fatal(err)
	}
	sol, err := c.ChooseParams(o, pc)
	if err != nil {
		t.Fatal(err)
	}
	return c, sol, x
}

func TestEncryptedInferenceMatchesCircuit(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  circuit.Config
		pot  bool
	}{
		{"exact rounding", circuit.Config{NWBits: 3, NABits: 3, NInputBits: 3, RoundingThresholdBits: 3}, false},
		{"approximate rounding", circuit.Config{NWBits: 3, NABits: 3, NInputBits: 3, RoundingThresholdBits: 3, RoundingMethod: circuit.Approximate}, false},
		{"no rounding", circuit.Config{NWBits: 2, NABits: 2, NInputBits: 2}, false},
		// 4-bit inputs make fc1's TLUs wider than fc2's: two partitions, and fc2's
		// TLUs keyswitch from fc1's key to their own.
		{"two partitions", circuit.Config{NWBits: 2, NABits: 2, NInputBits: 4}, false},
		// Integer biases in the accumulators and the power-of-two pass's exact rounding.
		{"power of two", circuit.Config{NWBits: 3, NABits: 3}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			build := smallNet
			if tc.pot {
				build = func(rng *rand.Rand) *circuit.Network { return powerOfTwo(smallNet(rng)) }
			}
			c, sol, x := compileNet(t, build, tc.cfg, circuit.ParamsConfig{PError: 1e-9})
			if tc.pot && !c.Layers[0].PowerOfTwo {
				t.Fatalf("the power-of-two pass did not round fc1: %+v", c.Layers[0])
			}
			cross := false
			for _, l := range sol.Layers[:c.TLULayers()] {
				cross = cross || l.InputPartition != l.Partition
			}
			if want := tc.name == "two partitions"; cross != want {
				t.Fatalf("keyswitch between partitions: %v, want %v (%+v)", cross, want, sol.Layers)
			}
			// Two partitions make their keys on one goroutine each (one core allowed),
			// the others with tfhe-go's parallel generation.
			cores := 0
			if cross {
				cores = 1
			}
			keys, err := executor.GenKeys(context.Background(), c, sol, 0, cores)
			if err != nil {
				t.Fatal(err)
			}
			if cross {
				// Verify's set timings: one per partition, its set, on one core and on
				// two at once.
				for _, cs := range []int{1, 2} {
					sp := keys.PBSTimesAllCores(cs, 2)
					if len(sp) != len(sol.Sets.Partitions) {
						t.Fatalf("%d cores: %d set timings for %d partitions", cs, len(sp), len(sol.Sets.Partitions))
					}
					for p, v := range sp {
						if v.Set.Literal() != sol.Sets.Partitions[p].Literal() || !(v.MS > 0) {
							t.Errorf("%d cores: partition %d timed %+v, want its set %+v and a time", cs, p, v, sol.Sets.Partitions[p])
						}
					}
				}
			}
			for s := 0; s < 3; s++ {
				res, err := keys.Run(context.Background(), x.RawRowView(s), 2)
				if err != nil {
					t.Fatal(err)
				}
				if tc.cfg.RoundingMethod == circuit.Exact {
					// At p_error 1e-9 every TLU output and every output accumulator is the
					// clear circuit's.
					for i, l := range res.Layers {
						if l.TLUErrors != 0 {
							t.Errorf("sample %d layer %s: %d TLU errors", s, c.Layers[i].Name, l.TLUErrors)
						}
					}
					for j := range res.Outputs {
						if res.Outputs[j] != res.Clean[j] {
							t.Errorf("sample %d: outputs %v, clear circuit %v", s, res.Outputs, res.Clean)
							break
						}
					}
				}
				if res.Prediction != res.CleanPrediction && tc.cfg.RoundingMethod == circuit.Exact {
					t.Errorf("sample %d: prediction %d, clear %d", s, res.Prediction, res.CleanPrediction)
				}
				if len(res.Layers) != len(c.Layers) || res.Layers[0].Bootstraps != c.Layers[0].PBSCount() {
					t.Errorf("layers %+v", res.Layers)
				}
			}
		})
	}
}

func TestKeysTooLarge(t *testing.T) {
	c, sol, _ := compileSmall(t, circuit.Config{NWBits: 3, NABits: 3}, circuit.ParamsConfig{PError: 1e-3})
	if mb := executor.KeyMB(sol); !(mb > 1) {
		t.Fatalf("key size %v MB", mb)
	}
	if _, err := executor.GenKeys(context.Background(), c, sol, 1, 0); !errors.Is(err, executor.ErrKeysTooLarge) {
		t.Errorf("1 MB allowed: %v", err)
	}
	// With every core, one set's keys are made and packed at a time: the bound counts
	// the keys and one more copy of the largest set's.
	mb, largest := executor.KeyMB(sol), 0.0
	for _, p := range sol.Sets.Partitions {
		largest = max(largest, calibration.KeyBytes(p)/1e6)
	}
	if _, err := executor.GenKeys(context.Background(), c, sol, mb+largest/2, 0); !errors.Is(err, executor.ErrKeysTooLarge) {
		t.Errorf("%.1f MB allowed for %.1f MB of keys and %.1f MB packed: %v", mb+largest/2, mb, largest, err)
	}
	if _, err := executor.GenKeys(context.Background(), c, sol, mb+largest+1, 0); err != nil {
		t.Errorf("%.1f MB allowed for %.1f MB of keys and %.1f MB packed: %v", mb+largest+1, mb, largest, err)
	}
}

// poolNet is conv(2, 2×2) → activation → 2×2 max pool (stride 1) → [tanh] → linear(3) on
// 1×4×4 inputs. The comparisons run at the 3 bits of the differences of 2-bit values;
// the tanh's TLU, or an identity TLU without it, reads the maxima at 3 bits and writes
// them at the linear layer's width.
func poolNet(rng *rand.Rand, act circuit.Activation, tanhAfter bool) *circuit.Network {
	conv := &circuit.Conv2d{OutC: 2, InC: 1, KH: 2, KW: 2, Stride: 1, InH: 4, InW: 4, W: make([]float64, 8), B: make([]float64, 2)}
	fc := &circuit.Linear{Out: 3, In: 8, W: make([]float64, 24), B: make([]float64, 3)}
	for _, w := range [][]float64{conv.W, fc.W} {
		for i := range w {
			w[i] = rng.NormFloat64() / 2
		}
	}
	conv.B[0], conv.B[1] = 0.3, -0.2
	layers := []circuit.Layer{conv, act, &circuit.MaxPool2d{K: 2, Stride: 1, C: 2, InH: 3, InW: 3}}
	if tanhAfter {
		layers = append(layers, circuit.Activation{Func: circuit.Tanh})
	}
	return &circuit.Network{InSize: 16, Layers: append(layers, circuit.Flatten{}, fc)}
}

// TestEncryptedMaxPool runs circuits with a leaky ReLU or a tanh and a 2×2 max pool under
// encryption at p_error 1e-9: every TLU (each comparison of the pool included) and every
// output equals the clear circuit's.
func TestEncryptedMaxPool(t *testing.T) {
	for _, tc := range []struct {
		name      string
		act       circuit.Activation
		tanhAfter bool
	}{
		{"leaky relu, pool, tanh", circuit.Activation{Func: circuit.LeakyReLU, Alpha: 0.1}, true},
		{"tanh, pool into linear", circuit.Activation{Func: circuit.Tanh}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(83, 84))
			net := poolNet(rng, tc.act, tc.tanhAfter)
			x := mat.NewDense(100, 16, nil)
			for i := range x.RawMatrix().Data {
				x.RawMatrix().Data[i] = rng.NormFloat64()
			}
			c, err := circuit.Compile(net, x, circuit.Config{NWBits: 2, NABits: 2, NInputBits: 2})
			if err != nil {
				t.Fatal(err)
			}
			pool := c.Layers[1]
			if pool.Op != "maxpool" || pool.TLUCount != 2*2*2*4 {
				t.Fatalf("layer 1 %+v, want a max pool of 32 comparisons", pool)
			}
			if next := c.Layers[2]; pool.AccumulatorBits != 3 || next.AccumulatorBits != 3 || next.Op != "none" {
				t.Fatalf("max pool at %d bits, the TLU reading its maxima %+v", pool.AccumulatorBits, next)
			}
			o, err := fhe.NewOptimizer()
			if err != nil {
				t.Fatal(err)
			}
			sol, err := c.ChooseParams(o, circuit.ParamsConfig{PError: 1e-9})
			if err != nil {
				t.Fatal(err)
			}
			keys, err := executor.GenKeys(context.Background(), c, sol, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			for s := 0; s < 2; s++ {
				res, err := keys.Run(context.Background(), x.RawRowView(s), 2)
				if err != nil {
					t.Fatal(err)
				}
				for i, l := range res.Layers {
					if l.TLUErrors != 0 {
						t.Errorf("sample %d layer %s: %d TLU errors", s, c.Layers[i].Name, l.TLUErrors)
					}
					if l.Bootstraps != c.Layers[i].PBSCount() {
						t.Errorf("sample %d layer %s: %d bootstraps, want %d", s, c.Layers[i].Name, l.Bootstraps, c.Layers[i].PBSCount())
					}
				}
				if len(res.Outputs) != 3 {
					t.Fatalf("sample %d: %d outputs", s, len(res.Outputs))
				}
				for j := range res.Outputs {
					if res.Outputs[j] != res.Clean[j] {
						t.Errorf("sample %d: outputs %v, clear circuit %v", s, res.Outputs, res.Clean)
						break
					}
				}
				if res.Prediction != res.CleanPrediction {
					t.Errorf("sample %d: prediction %d, clear %d", s, res.Prediction, res.CleanPrediction)
				}
			}
		})
	}
}
