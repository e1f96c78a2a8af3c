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
	c, err := circuit.Compile(net, x.Slice(0, 500, 0, 64).(*mat.Dense), circuit.Config{NWBits: 8, NABits: 8, RoundingThresholdBits: 8})
	if err != nil {
		t.Fatal(err)
	}
	if fa, _ := net.Accuracy(x, y); fa != 1 {
		t.Fatalf("teacher accuracy %v", fa)
	}
	sol, err := c.ChooseParams(newOptimizer(t), circuit.ParamsConfig{PError: 1e-12})
	if err != nil {
		t.Fatal(err)
	}
	for name, ps := range map[string][]float64{"nil": nil, "set": circuit.PErrors(sol), "zero": {0, 0}} {
		res, err := c.Simulate(x, y, ps, 1)
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
	ps := circuit.PErrors(sol)
	res, err := c.Simulate(x, y, ps, 7)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range res.Layers {
		p := ps[i]
		if !(p > 0.001 && p <= 0.05) {
			t.Fatalf("layer %s: actual p_error %v", l.Name, p)
		}
		n := int64(3000 * c.Layers[i].TLUCount)
		mean := float64(n) * p
		if l.Evaluations != n || math.Abs(float64(l.Shifts)-mean) > 5*math.Sqrt(mean*(1-p)) {
			t.Errorf("layer %s: %d shifts in %d evaluations, expected %.1f (p %.4g)", l.Name, l.Shifts, l.Evaluations, mean, p)
		}
	}
	if res.Changed == 0 || res.Accuracy > res.QuantizedAccuracy+0.02 {
		t.Errorf("errors changed %d predictions: accuracy %v vs %v", res.Changed, res.Accuracy, res.QuantizedAccuracy)
	}
	again, err := c.Simulate(x, y, ps, 7)
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
	c, err := circuit.Compile(net, x, circuit.Config{NWBits: 8, NABits: 8, RoundingThresholdBits: 9})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"conv1", "conv2", "fc1"}
	for i, l := range c.Layers {
		if l.Name != names[i] {
			t.Errorf("layer %d named %q, want %q", i, l.Name, names[i])
		}
	}
	if c.PBSCount() != 4*64+6*16 {
		t.Errorf("PBS count %d", c.PBSCount())
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
	prev := math.Inf(1)
	for _, p := range []int{8, 6, 4, 3} {
		c, err := circuit.Compile(net, x, circuit.Config{NWBits: 6, NABits: 6, RoundingThresholdBits: p})
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
					if i < 2 {
						par := timing.ParallelMillis(l.Params, cores)
						rest := l.TLUCount % cores
						want := float64(l.TLUCount/cores) * par
						if rest > 0 {
							want += timing.ParallelMillis(l.Params, rest)
						}
						if math.Abs(l.BootstrapMS-want) > 1e-9*want {
							t.Errorf("P=%d %v cores=%d %s: bootstrap %v ms, want %v", p, strategy, cores, l.Name, l.BootstrapMS, want)
						}
					}
				}
				if math.Abs(sum-lat.TotalMS) > 1e-9*sum || lat.PBSCount != 64 || lat.MaxTLUBits != p || lat.BootstrapKeyMB <= 0 || lat.KeySwitchKeyMB <= 0 {
					t.Errorf("P=%d: %+v", p, lat)
				}
				if strategy == fhe.MultiParameter && cores == 1 {
					if !(lat.TotalMS < prev) {
						t.Errorf("latency %v ms at rounding_threshold_bits %d, %v at the wider setting", lat.TotalMS, p, prev)
					}
					prev = lat.TotalMS
				}
			}
		}
	}
}
