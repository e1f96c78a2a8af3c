package tuner_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fhetune/fhetune/tuner"
	"github.com/fhetune/fhetune/tuner/dataset"
	"github.com/fhetune/fhetune/tuner/model"
)

// qatSeeds are the seeds (split, base weights and training, error injection) the
// quantization-aware training goals are averaged over.
var qatSeeds = []uint64{1, 2, 3}

// qatTrial evaluates the knobs on the task with a fresh environment (no trained
// network cached) and returns the result and the trial's wall time.
func qatTrial(b *testing.B, task tuner.Task, k tuner.Knobs) (tuner.Result, time.Duration) {
	b.Helper()
	env := testEnv(b)
	t0 := time.Now()
	res, err := tuner.Evaluate(context.Background(), env, task, k)
	if err != nil {
		b.Fatal(err)
	}
	return res, time.Since(t0)
}

// BenchmarkQATDigits measures quantization-aware training on the digits MLP (mlp:64,64,
// the default base recipe), over three seeds: the mean test accuracy of a trial at
// n_w_bits = n_a_bits = n_input_bits = 3 and 2 with training qat (DefaultQATEpochs),
// next to post-training quantization at 3 bits, and the mean time of one 3-bit QAT
// trial (training, compilation, simulation, latency; run with -cpu 1 for one core).
// Goals: ≥ 90% at 3 bits and ≥ 80% at 2 bits; it fails below them.
func BenchmarkQATDigits(b *testing.B) {
	ds, err := dataset.Load("digits")
	if err != nil {
		b.Fatal(err)
	}
	var acc3, acc2, ptq3, secs float64
	for b.Loop() {
		acc3, acc2, ptq3, secs = 0, 0, 0, 0
		for _, seed := range qatSeeds {
			task, err := tuner.SplitTask(ds, seed)
			if err != nil {
				b.Fatal(err)
			}
			if task.Base, err = tuner.TrainBase(context.Background(), tuner.DefaultMLPSpec, ds, task, tuner.DefaultBaseTraining(seed)); err != nil {
				b.Fatal(err)
			}
			r3, d := qatTrial(b, task, tuner.Knobs{NWBits: 3, NABits: 3, NInputBits: 3, Training: tuner.TrainingQAT})
			r2, _ := qatTrial(b, task, tuner.Knobs{NWBits: 2, NABits: 2, NInputBits: 2, Training: tuner.TrainingQAT})
			p3, _ := qatTrial(b, task, tuner.Knobs{NWBits: 3, NABits: 3, NInputBits: 3})
			acc3 += r3.Accuracy / 3
			acc2 += r2.Accuracy / 3
			ptq3 += p3.Accuracy / 3
			secs += d.Seconds() / 3
		}
	}
	b.ReportMetric(acc3, "qat3_acc")
	b.ReportMetric(acc2, "qat2_acc")
	b.ReportMetric(ptq3, "ptq3_acc")
	b.ReportMetric(secs, "qat3_trial_s")
	if acc3 < 0.90 {
		b.Errorf("3-bit QAT accuracy %.4f < 0.90", acc3)
	}
	if acc2 < 0.80 {
		b.Errorf("2-bit QAT accuracy %.4f < 0.80", acc2)
	}
}

// BenchmarkQATFashion measures quantization-aware training on a Fashion-MNIST MLP
// (mlp:64,64, base trained 5 epochs, batch 128), over three seeds: the mean test
// accuracy of a 4-bit QAT trial (n_w_bits = n_a_bits = n_input_bits = 4, qat_epochs 3,
// rounding_threshold_bits 8: the 784-input accumulators are too wide for a TLU)
// against the float network's, and the mean time of one such trial and of the base
// training. Goal: within 2
// points of float; it fails past that. Skipped without Debian's dataset-fashion-mnist.
func BenchmarkQATFashion(b *testing.B) {
	ds, err := dataset.Load("fashion-mnist")
	if errors.Is(err, dataset.ErrNotInstalled) {
		b.Skipf("Fashion-MNIST is not installed (apt-get install -y %s): %v", dataset.FashionMNISTPackage, err)
	}
	if err != nil {
		b.Fatal(err)
	}
	var acc, float, secs, baseSecs float64
	for b.Loop() {
		acc, float, secs, baseSecs = 0, 0, 0, 0
		for _, seed := range qatSeeds {
			task, err := tuner.SplitTask(ds, seed)
			if err != nil {
				b.Fatal(err)
			}
			cfg := model.TrainConfig{Epochs: 5, BatchSize: 128, Seed: seed}
			t0 := time.Now()
			if task.Base, err = tuner.TrainBase(context.Background(), tuner.DefaultMLPSpec, ds, task, cfg); err != nil {
				b.Fatal(err)
			}
			baseSecs += time.Since(t0).Seconds() / 3
			r, d := qatTrial(b, task, tuner.Knobs{NWBits: 4, NABits: 4, NInputBits: 4, RoundingThresholdBits: 8,
				Training: tuner.TrainingQAT, QATEpochs: 3})
			acc += r.Accuracy / 3
			float += r.FloatAccuracy / 3
			secs += d.Seconds() / 3
		}
	}
	b.ReportMetric(acc, "qat4_acc")
	b.ReportMetric(float, "float_acc")
	b.ReportMetric(secs, "qat4_trial_s")
	b.ReportMetric(baseSecs, "base_train_s")
	if acc < float-0.02 {
		b.Errorf("4-bit QAT accuracy %.4f is more than 2 points below float %.4f", acc, float)
	}
}
