package circuit_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fhetune/fhetune/fhe"
	"github.com/fhetune/fhetune/fhe/circuit"
	"gonum.org/v1/gonum/mat"
)

func newOptimizer(t testing.TB) *fhe.Optimizer {
	t.Helper()
	o, err := fhe.NewOptimizer()
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestSimulateWithoutErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	net := randomMLP(rng, 64, []int{32, 32}, 4)
	x := randomData(rng, 1500, 64)
	y := teacherLabels(net, x)
	c, err := circuit.Compile(net, x.Slice(0, 500, 0, 64).(*mat.Dense), circuit.Config{NWBits: 6, NABits: 6, RoundingThresholdBits: 6})
	if err != nil {
		t.Fatal(err)
	}
	if c.Layers[0].Extractions == 0 {
		t.Fatalf("no exact rounding: %+v", c.Layers[0])
	}
	if fa, _ := net.Accuracy(x, y); fa != 1 {
		t.Fatalf("teacher accuracy %v", fa)
	}
	sol, err := c.ChooseParams(newOptimizer(t), circuit.ParamsConfig{PError: 1e-9})
	if err != nil {
		t.Fatal(err)
	}
	set, err := c.Noise(sol)
	if err != nil {
		t.Fatal(err)
	}
	zero := circuit.UniformNoise(c, 0)
	for name, noise := range map[string]*circuit.Noise{"nil": nil, "set": &set, "zero": &zero} {
		res, err := c.Simulate(x, y, noise, 1)
		if err != nil {
			t.Fatal(err)
		}
		if res.Accuracy != res.QuantizedAccuracy || res.Changed != 0 {
			t.Errorf("%s: accuracy %v with errors, %v without (%d changed)", name, res.Accuracy, res.QuantizedAccuracy, res.Changed)
		}
		if res.QuantizedAccuracy < 0.9 {
			t.Errorf("%s: 8-bit quantized accuracy %v, float 1", name, res.QuantizedAccuracy)
		}
	}
}

func TestSimulateShiftRateMatchesSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	net := randomMLP(rng, 32, []int{24, 16}, 3)
	x := randomData(rng, 3000, 32)
	y := teacherLabels(net, x)
	c, err := circuit.Compile(net, x, circuit.Config{NWBits: 4, NABits: 4, RoundingThresholdBits: 5})
	if err != nil {
		t.Fatal(err)
	}
	sol, err := c.ChooseParams(newOptimizer(t), circuit.ParamsConfig{PError: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	noise, err := c.Noise(sol)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Simulate(x, y, &noise, 7)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range res.Layers {
		// The worst neuron's p_error is the decoding's (at most the target); the others
		// have less noise, so the expected count is below p·evaluations.
		p := l.PError
		if !(p > 0.001 && p <= 0.05*1.000001) || math.Abs(p-sol.Layers[i].PError) > 1e-6*p {
			t.Fatalf("layer %s: worst p_error %v, solution %v", l.Name, p, sol.Layers[i].PError)
		}
		n := int64(3000 * c.Layers[i].TLUCount)
		mean := l.ExpectedShifts
		if l.Evaluations != n || !(mean <= float64(n)*p*(1+1e-9)) || math.Abs(float64(l.Shifts)-mean) > 5*math.Sqrt(mean)+1 {
			t.Errorf("layer %s: %d shifts in %d evaluations, expected %.1f (worst p %.4g)", l.Name, l.Shifts, l.Evaluations, mean, p)
		}
	}
	if res.Changed == 0 || res.Accuracy > res.QuantizedAccuracy+0.02 {
		t.Errorf("errors changed %d predictions: accuracy %v vs %v", res.Changed, res.Accuracy, res.QuantizedAccuracy)
	}
	again, err := c.Simulate(x, y, &noise, 7)
	if err != nil {
		t.Fatal(err)
	}
	if again.Accuracy != res.Accuracy || again.Changed != res.Changed || again.Layers[0] != res.Layers[0] {
		t.Errorf("same seed, different results: %+v vs %+v", again, res)
	}
}

func TestCNN(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	net := randomCNN(rng, 5)
	x := randomData(rng, 800, 64)
	y := teacherLabels(net, x)
	c, err := circuit.Compile(net, x, circuit.Config{NWBits: 8, NABits: 8, RoundingThresholdBits: 8, RoundingMethod: circuit.Approximate})
	if err != nil {
		t.Fatal(err)
	}
	// Each pool's window sums are requantized by a TLU of their own (Concrete ML's
	// QuantizedAvgPool): 4·8·8 + 4·4·4 + 6·4·4 + 6·2·2 = 440 TLUs.
	names := []string{"conv1", "pool1", "conv2", "pool2", "fc1"}
	for i, l := range c.Layers {
		if l.Name != names[i] {
			t.Errorf("layer %d named %q, want %q", i, l.Name, names[i])
		}
	}
	if c.TLUCount() != 440 || c.PBSCount() != 440 || len(c.Layers) != len(names) {
		t.Errorf("TLU count %d, PBS count %d", c.TLUCount(), c.PBSCount())
	}
	res, err := c.Simulate(x, y, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	if res.QuantizedAccuracy < 0.85 {
		t.Errorf("8-bit CNN accuracy %v of float 1", res.QuantizedAccuracy)
	}
}

func TestEstimate(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	net := randomMLP(rng, 64, []int{40, 24}, 4)
	x := randomData(rng, 500, 64)
	o := newOptimizer(t)
	timing := complexityTiming{msPerOp: 1e-6}
	rounds := func(p fhe.Params, single float64, count, cores int) float64 {
		f := func(k int) float64 { return timing.ParallelMillis(p, k) / timing.PBSMillis(p) }
		ms := float64(count/cores) * single * f(cores)
		if rest := count % cores; rest > 0 {
			ms += single * f(rest)
		}
		return ms
	}
	for _, p := range []int{8, 6, 4, 3} {
		total := map[circuit.RoundingMethod]float64{}
		for _, method := range []circuit.RoundingMethod{circuit.Exact, circuit.Approximate} {
			c, err := circuit.Compile(net, x, circuit.Config{NWBits: 6, NABits: 6, RoundingThresholdBits: p, RoundingMethod: method})
			if err != nil {
				t.Fatal(err)
			}
			for _, strategy := range []fhe.Strategy{fhe.MultiParameter, fhe.MonoParameter} {
				sol, err := c.ChooseParams(o, circuit.ParamsConfig{PError: 0.01, Strategy: strategy})
				if err != nil {
					t.Fatal(err)
				}
				for _, cores := range []int{1, 3} {
					lat, err := c.Estimate(sol, timing, cores)
					if err != nil {
						t.Fatal(err)
					}
					sum := 0.0
					for i, l := range lat.Layers {
						sum += l.LayerMS
						if i == 2 {
							continue
						}
						lp, info := sol.Layers[i], c.Layers[i]
						single := timing.PBSMillis(lp.Params)
						if lp.InputPartition != lp.Partition {
							single = timing.BootstrapMillis(lp.Params) + timing.KeySwitchMillis(lp.Input, lp.Params, lp.KSLevel)
						}
						wantTLU := rounds(lp.Params, single, l.TLUCount, cores)
						wantRound := float64(info.Extractions) * rounds(lp.Input, timing.PBSMillis(lp.Input), l.TLUCount, cores)
						if math.Abs(l.TLUMS-wantTLU) > 1e-9*wantTLU || math.Abs(l.RoundingMS-wantRound) > 1e-9*(wantRound+1) ||
							l.BootstrapMS != l.TLUMS+l.RoundingMS || l.PBSCount != info.PBSCount() {
							t.Errorf("P=%d %v %v cores=%d %s: %+v, want TLU %v ms, rounding %v ms", p, method, strategy, cores, l.Name, l, wantTLU, wantRound)
						}
					}
					if math.Abs(sum-lat.TotalMS) > 1e-9*sum || lat.TLUCount != 64 || lat.PBSCount != c.PBSCount() || lat.MaxTLUBits != p ||
						lat.BootstrapKeyMB <= 0 || lat.KeySwitchKeyMB <= 0 {
						t.Errorf("P=%d: %+v", p, lat)
					}
					if strategy == fhe.MultiParameter && cores == 1 {
						total[method] = lat.TotalMS
					}
				}
			}
			if method == circuit.Exact && c.PBSCount() != 64+40*c.Layers[0].Extractions+24*c.Layers[1].Extractions {
				t.Errorf("P=%d: %d bootstraps for %+v", p, c.PBSCount(), c.Layers)
			}
		}
		// Exact rounding pays one bootstrap per removed bit; approximate pays none.
		if !(total[circuit.Approximate] < total[circuit.Exact]) {
			t.Errorf("P=%d: approximate %v ms, exact %v ms", p, total[circuit.Approximate], total[circuit.Exact])
		}
	}
}
