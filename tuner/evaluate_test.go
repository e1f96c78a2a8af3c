package tuner_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fhetune/fhetune/fhe/calibration"
	"github.com/fhetune/fhetune/fhe/circuit"
	"github.com/fhetune/fhetune/tuner"
	"github.com/fhetune/fhetune/tuner/dataset"
	"github.com/fhetune/fhetune/tuner/model"
	"gonum.org/v1/gonum/mat"
)

// testProfile is a fixed latency profile (two workers, measured dot products) so that
// the figures of these tests do not move when the built-in default is re-measured.
func testProfile() calibration.Profile {
	return calibration.Profile{
		Format: calibration.Format,
		Model: calibration.Model{Terms: []string{"ks_mac", "ks_call", "br_fft", "br_mac", "br_poly"},
			Coef: []float64{1e-7, 0.01, 2.5e-7, 1e-7, 1e-5}},
		Parallel:     calibration.ParallelModel{Workers: 2, Scale: 1.1},
		DotNSPerCoef: 0.5,
	}
}

var digits struct {
	once sync.Once
	ds   *dataset.Dataset
	task tuner.Task
	err  error
}

// digitsTask trains the default MLP on digits once for all tests.
func digitsTask(tb testing.TB) (*dataset.Dataset, tuner.Task) {
	tb.Helper()
	digits.once.Do(func() {
		ds, err := dataset.Load("digits")
		if err != nil {
			digits.err = err
			return
		}
		task, err := tuner.SplitTask(ds, 1)
		if err != nil {
			digits.err = err
			return
		}
		task.Base, digits.err = tuner.TrainBase(context.Background(), tuner.DefaultMLPSpec, ds, task, tuner.DefaultBaseTraining(1))
		digits.ds, digits.task = ds, task
	})
	if digits.err != nil {
		tb.Fatal(digits.err)
	}
	return digits.ds, digits.task
}

func testEnv(tb testing.TB) *tuner.Env {
	tb.Helper()
	env, err := tuner.NewProfileEnv(testProfile(), "test")
	if err != nil {
		tb.Fatal(err)
	}
	return env
}

func TestEvaluateDigitsNearFloat(t *testing.T) {
	_, task := digitsTask(t)
	res, err := tuner.Evaluate(context.Background(), testEnv(t), task,
		tuner.Knobs{NWBits: 6, NABits: 6, NInputBits: 8, RoundingThresholdBits: 8, PError: 1e-6})
	if err != nil {
		t.Fatal(err)
	}
	want, err := task.Base.Accuracy(task.Test.X, task.Test.Y)
	if err != nil {
		t.Fatal(err)
	}
	if res.FloatAccuracy != want || want < 0.9 {
		t.Fatalf("float accuracy %v, model says %v", res.FloatAccuracy, want)
	}
	if res.QuantizedAccuracy < want-0.01 || res.Accuracy < want-0.01 {
		t.Errorf("6-bit accuracy %v (quantized %v), float %v: more than 1%% apart", res.Accuracy, res.QuantizedAccuracy, want)
	}
	if res.TLUCount != 128 || res.MaxTLUBits > 8 || len(res.Layers) != 3 || res.Layers[2].TLUCount != 0 || res.Layers[0].Params == nil {
		t.Errorf("circuit: %+v", res)
	}
	sum, pbs := 0.0, 0
	for _, l := range res.Layers {
		sum += l.LayerMS
		pbs += l.PBSCount
	}
	if pbs != res.PBSCount || pbs <= res.TLUCount {
		t.Errorf("%d bootstraps, layers sum to %d, %d TLUs", res.PBSCount, pbs, res.TLUCount)
	}
	if math.Abs(sum-res.LatencyMS) > 1e-9*sum || res.LatencyMS <= 0 || res.Calibration != "test" || res.Cores != 2 {
		t.Errorf("latency %v ms from layers summing to %v, calibration %q, cores %d", res.LatencyMS, sum, res.Calibration, res.Cores)
	}
}

func TestEvaluateNoErrorsAtTinyPError(t *testing.T) {
	_, task := digitsTask(t)
	res, err := tuner.Evaluate(context.Background(), testEnv(t), task,
		tuner.Knobs{NWBits: 4, NABits: 4, RoundingThresholdBits: 6, PError: 1e-15})
	if err != nil {
		t.Fatal(err)
	}
	if res.Accuracy != res.QuantizedAccuracy || res.Changed != 0 {
		t.Errorf("p_error 1e-15: accuracy %v, quantized %v", res.Accuracy, res.QuantizedAccuracy)
	}
}

func TestEvaluateLatencyFallsWithRounding(t *testing.T) {
	_, task := digitsTask(t)
	env := testEnv(t)
	prev := math.Inf(1)
	for _, p := range []int{8, 6, 5, 4, 3} {
		res, err := tuner.Evaluate(context.Background(), env, task, tuner.Knobs{NWBits: 6, NABits: 6, RoundingThresholdBits: p, PError: 0.01})
		if err != nil {
			t.Fatal(err)
		}
		if res.MaxTLUBits != p || !(res.LatencyMS < prev) {
			t.Errorf("rounding_threshold_bits %d: %d-bit TLUs, %v ms (previous %v ms)", p, res.MaxTLUBits, res.LatencyMS, prev)
		}
		prev = res.LatencyMS
	}
}

func TestEvaluatePruning(t *testing.T) {
	_, task := digitsTask(t)
	env := testEnv(t)
	k := tuner.Knobs{NWBits: 4, NABits: 4, RoundingThresholdBits: 6, PError: 0.01, Pruning: 0.5}
	res, err := tuner.Evaluate(context.Background(), env, task, k)
	if err != nil {
		t.Fatal(err)
	}
	if res.TLUCount != 64 || res.Layers[0].TLUCount != 32 {
		t.Errorf("pruning 0.5: %d PBS, %+v", res.PBSCount, res.Layers[0])
	}
	if res.FloatAccuracy < 0.85 {
		t.Errorf("pruned, fine-tuned float accuracy %v", res.FloatAccuracy)
	}
	again, err := tuner.Evaluate(context.Background(), env, task, k)
	if err != nil || again.Accuracy != res.Accuracy || again.FloatAccuracy != res.FloatAccuracy {
		t.Errorf("same knobs again: %+v, %v", again, err)
	}
	k.Pruning, k.Sparsity = 0, 0.6
	sp, err := tuner.Evaluate(context.Background(), env, task, k)
	if err != nil {
		t.Fatal(err)
	}
	if frac := float64(sp.ZeroWeights) / float64(sp.Weights); frac < 0.6 || sp.TLUCount != 128 {
		t.Errorf("sparsity 0.6: %d of %d weights zero, %d TLUs", sp.ZeroWeights, sp.Weights, sp.TLUCount)
	}
	if w, z := task.Base.Sparsity(); z != 0 || w != 64*64+64*64+64*10 {
		t.Errorf("Evaluate changed the base network: %d of %d weights zero", z, w)
	}
}

func TestEvaluateBadKnobs(t *testing.T) {
	_, task := digitsTask(t)
	env := testEnv(t)
	for _, tc := range []struct {
		name string
		k    tuner.Knobs
		want string
	}{
		{"w bits 0", tuner.Knobs{NWBits: 0, NABits: 4}, "n_w_bits 0"},
		{"a bits 17", tuner.Knobs{NWBits: 4, NABits: 17}, "n_a_bits 17"},
		{"p_error 1", tuner.Knobs{NWBits: 4, NABits: 4, PError: 1}, "p_error 1 outside"},
		{"p_error negative", tuner.Knobs{NWBits: 4, NABits: 4, PError: -1e-3}, "p_error -0.001"},
		{"both", tuner.Knobs{NWBits: 4, NABits: 4, PError: 0.1, GlobalPError: 0.1}, "both"},
		{"pruning 1", tuner.Knobs{NWBits: 4, NABits: 4, Pruning: 1}, "pruning 1"},
		{"strategy", tuner.Knobs{NWBits: 4, NABits: 4, Strategy: "dual"}, `strategy "dual"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tuner.Evaluate(context.Background(), env, task, tc.k)
			if !errors.Is(err, tuner.ErrKnobs) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want ErrKnobs mentioning %q", err, tc.want)
			}
		})
	}
	// 8-bit without rounding: the first accumulator is wider than 16 bits.
	_, err := tuner.Evaluate(context.Background(), env, task, tuner.Knobs{NWBits: 8, NABits: 8})
	var le *circuit.LayerError
	if !errors.Is(err, tuner.ErrInfeasible) || !errors.Is(err, circuit.ErrTooWide) || !errors.As(err, &le) || le.Layer != "fc1" ||
		!strings.Contains(err.Error(), "rounding_threshold_bits") {
		t.Errorf("8-bit unrounded: %v", err)
	}
}

func TestResolveSpec(t *testing.T) {
	for in, want := range map[string]string{"mlp": tuner.DefaultMLPSpec, "CNN": tuner.DefaultCNNSpec, "mlp:32": "mlp:32"} {
		if got, err := tuner.ResolveSpec(in); err != nil || got != want {
			t.Errorf("ResolveSpec(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := tuner.ResolveSpec("rnn:3"); !errors.Is(err, tuner.ErrSpec) {
		t.Errorf("rnn: %v", err)
	}
}

func TestDefaultProfile(t *testing.T) {
	pr, err := calibration.Default()
	if err != nil {
		t.Fatal(err)
	}
	_, task := digitsTask(t)
	env, err := tuner.NewProfileEnv(pr, calibration.SourceDefault)
	if err != nil {
		t.Fatal(err)
	}
	res, err := tuner.Evaluate(context.Background(), env, task, tuner.Knobs{NWBits: 4, NABits: 4, RoundingThresholdBits: 6, PError: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	if !(res.LatencyMS > 0) || !strings.HasPrefix(res.Calibration, calibration.SourceDefault) {
		t.Errorf("default profile: %v ms, calibration %q", res.LatencyMS, res.Calibration)
	}
	// fc1 of the default MLP by hand from the profile's numbers (see byHand): 64 TLUs
	// over the profile's workers, in the partition of their inputs (no keyswitch between
	// keys); exact rounding of LSBsRemoved bits, each a round of 64 extractions with
	// the same set; 64 inputs × 64 neurons = 4096 multiply-adds of levelled work.
	h := byHand{t, pr}
	fc1 := res.Layers[0]
	if fc1.Name != "fc1" || fc1.Params == nil || fc1.InputParams != nil || fc1.TLUCount != 64 || fc1.Rounding != "exact" ||
		fc1.LSBsRemoved < 1 || fc1.PBSCount != 64*(1+fc1.LSBsRemoved) || res.Cores != pr.Workers() {
		t.Fatalf("fc1 %+v on %d cores", fc1, res.Cores)
	}
	p, err := fc1.Params.Compile()
	if err != nil {
		t.Fatal(err)
	}
	cores := res.Cores
	tlu := h.rounds(p, h.pbs(p), 64, cores)
	want := []struct {
		name      string
		got, want float64
	}{
		{"pbs", fc1.PBSMS, h.pbs(p)},
		{"tlu", fc1.TLUMS, tlu},
		{"rounding", fc1.RoundingMS, float64(fc1.LSBsRemoved) * tlu},
		{"keyswitch", fc1.KeySwitchMS, 0},
		{"bootstrap", fc1.BootstrapMS, float64(1+fc1.LSBsRemoved) * tlu},
		{"levelled", fc1.LevelledMS, h.levelled(p, 64*64) / float64(cores)},
		{"layer", fc1.LayerMS, float64(1+fc1.LSBsRemoved)*tlu + h.levelled(p, 64*64)/float64(cores)},
	}
	for _, w := range want {
		if !closeTo(w.got, w.want) {
			t.Errorf("fc1 %s: %.15g ms, by hand %.15g", w.name, w.got, w.want)
		}
	}
}

// BenchmarkEvaluateDigits is one digits trial with the model given: compile, parameters
// (memoized after the first), simulation over the 360 test images and latency.
func BenchmarkEvaluateDigits(b *testing.B) {
	_, task := digitsTask(b)
	env := testEnv(b)
	k := tuner.Knobs{NWBits: 4, NABits: 4, RoundingThresholdBits: 6, PError: 0.01}
	for b.Loop() {
		if _, err := tuner.Evaluate(context.Background(), env, task, k); err != nil {
			b.Fatal(err)
		}
	}
}

// fashionCircuit compiles an MLP 784-64-64-10 on Fashion-MNIST (trained two epochs on
// 10,000 images: the timing does not depend on its accuracy) with 4-bit knobs, and
// returns it with the standardized test images, their labels, the float network and
// the per-layer p_error of its crypto sets at p_error 0.01.
func fashionCircuit(b *testing.B) (*circuit.Circuit, *circuit.Network, *mat.Dense, []int, *circuit.Noise) {
	ds, err := dataset.Load("fashion-mnist")
	if errors.Is(err, dataset.ErrNotInstalled) {
		b.Skipf("Fashion-MNIST is not installed (apt-get install -y %s): %v", dataset.FashionMNISTPackage, err)
	}
	if err != nil {
		b.Fatal(err)
	}
	task, err := tuner.SplitTask(ds, 1)
	if err != nil {
		b.Fatal(err)
	}
	task.Train.X = task.Train.X.Slice(0, 10000, 0, 784).(*mat.Dense)
	task.Train.Y = task.Train.Y[:10000]
	net, err := tuner.TrainBase(context.Background(), tuner.DefaultMLPSpec, ds, task, model.TrainConfig{Epochs: 2, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	cnet, err := tuner.CircuitNetwork(net)
	if err != nil {
		b.Fatal(err)
	}
	c, err := circuit.Compile(cnet, net.Standardize(task.Calib.X), circuit.Config{NWBits: 4, NABits: 4, RoundingThresholdBits: 6})
	if err != nil {
		b.Fatal(err)
	}
	sol, err := c.ChooseParams(testEnv(b).Optimizer, circuit.ParamsConfig{PError: 0.01})
	if err != nil {
		b.Fatal(err)
	}
	noise, err := c.Noise(sol)
	if err != nil {
		b.Fatal(err)
	}
	return c, cnet, net.Standardize(task.Test.X), task.Test.Y, &noise
}

// BenchmarkFashionSimulate times the simulation of the 10,000 Fashion-MNIST test images
// (integer circuit with TLU errors at p_error 0.01, both accuracies) against the float64
// GEMM chain of the same network on the same inputs, interleaved so that both see the
// same machine load; it reports their ratio (goal: at most 1.5) and fails past 3, which
// the machine's load cannot explain when both halves see it.
func BenchmarkFashionSimulate(b *testing.B) {
	c, cnet, x, y, ps := fashionCircuit(b)
	var simNS, gemmNS int64
	for b.Loop() {
		t0 := time.Now()
		if _, err := c.Simulate(x, y, ps, 1); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		cnet.Forward(x)
		t2 := time.Now()
		simNS += t1.Sub(t0).Nanoseconds()
		gemmNS += t2.Sub(t1).Nanoseconds()
	}
	b.ReportMetric(float64(simNS)/float64(b.N)/1e6, "sim-ms")
	b.ReportMetric(float64(gemmNS)/float64(b.N)/1e6, "gemm-ms")
	ratio := float64(simNS) / float64(gemmNS)
	b.ReportMetric(ratio, "sim/gemm")
	if ratio > 3 {
		b.Fatalf("simulation takes %.2f× the GEMM chain's time (goal 1.5)", ratio)
	}
}

func TestEvaluateConcurrent(t *testing.T) {
	_, task := digitsTask(t)
	env := testEnv(t)
	k := tuner.Knobs{NWBits: 5, NABits: 5, RoundingThresholdBits: 7, PError: 0.02, Pruning: 0.25, Sparsity: 0.2}
	results := make([]tuner.Result, 4)
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = tuner.Evaluate(context.Background(), env, task, k)
		}()
	}
	wg.Wait()
	for i := range results {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if results[i].Accuracy != results[0].Accuracy || results[i].LatencyMS != results[0].LatencyMS ||
			results[i].FloatAccuracy != results[0].FloatAccuracy || results[i].Layers[0].Shifts != results[0].Layers[0].Shifts {
			t.Errorf("worker %d: %+v differs from %+v", i, results[i], results[0])
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tuner.Evaluate(ctx, env, task, tuner.Knobs{NWBits: 4, NABits: 4, Pruning: 0.4}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestDefaultCNNTLUCount(t *testing.T) {
	// The default CNN on 8×8 digits: conv1 8·8·8 ReLU TLUs, pool1's requantization
	// 8·4·4, conv2 16·4·4, pool2 16·2·2, fc1 64 = 1024 TLUs; with exact rounding each
	// adds its extractions.
	net, err := model.Build(tuner.DefaultCNNSpec, []int{1, 8, 8}, 10, 3)
	if err != nil {
		t.Fatal(err)
	}
	cnet, err := tuner.CircuitNetwork(net)
	if err != nil {
		t.Fatal(err)
	}
	x := mat.NewDense(64, 64, nil)
	for i := range x.RawMatrix().Data {
		x.RawMatrix().Data[i] = float64((i*37)%17) / 8
	}
	c, err := circuit.Compile(cnet, x, circuit.Config{NWBits: 4, NABits: 4})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"conv1": 512, "pool1": 128, "conv2": 256, "pool2": 64, "fc1": 64}
	for _, l := range c.Layers[:c.TLULayers()] {
		if want[l.Name] != l.TLUCount || l.Extractions != 0 {
			t.Errorf("layer %s: %d TLUs, %d extractions", l.Name, l.TLUCount, l.Extractions)
		}
	}
	if c.TLULayers() != 5 || c.TLUCount() != 1024 || c.PBSCount() != 1024 {
		t.Errorf("%d TLU layers, %d TLUs, %d bootstraps", c.TLULayers(), c.TLUCount(), c.PBSCount())
	}
}
