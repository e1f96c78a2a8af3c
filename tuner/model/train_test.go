package model_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/fhetune/fhetune/tuner/model"
)

// TestTrainDigitsMLP is the accuracy bar: mlp:64,64 on the embedded digits
// reaches at least 95% test accuracy.
func TestTrainDigitsMLP(t *testing.T) {
	d := loadDigits(t)
	net := d.build(t, "mlp:64,64", 1)
	var epochs []model.EpochStats
	res := d.train1(t, net, model.TrainConfig{Seed: 1, OnEpoch: func(s model.EpochStats) { epochs = append(epochs, s) }})
	acc := d.accuracy(t, net, d.test)
	t.Logf("epochs %d (best %d), val %.4f, test %.4f", res.EpochsRun, res.BestEpoch, res.ValAccuracy, acc)
	if acc < 0.95 {
		t.Errorf("test accuracy %.4f < 0.95", acc)
	}
	if len(epochs) != res.EpochsRun {
		t.Errorf("OnEpoch called %d times for %d epochs", len(epochs), res.EpochsRun)
	}
	// The network holds the best epoch's weights: its validation score is the reported one.
	loss, valAcc, err := net.Loss(d.val)
	if err != nil {
		t.Fatal(err)
	}
	if valAcc != res.ValAccuracy || math.Abs(loss-res.ValLoss) > 1e-12 {
		t.Errorf("restored network scores val %.4f / loss %.6f, best epoch reported %.4f / %.6f", valAcc, loss, res.ValAccuracy, res.ValLoss)
	}
	best := epochs[res.BestEpoch-1]
	for _, e := range epochs {
		if e.ValAccuracy > best.ValAccuracy {
			t.Errorf("epoch %d had val accuracy %.4f above the restored epoch %d (%.4f)", e.Epoch, e.ValAccuracy, best.Epoch, best.ValAccuracy)
		}
	}
	if res.Stopped && res.EpochsRun != res.BestEpoch+20 {
		t.Errorf("stopped at epoch %d, best %d: want patience 20", res.EpochsRun, res.BestEpoch)
	}
	if first, last := epochs[0].TrainLoss, epochs[len(epochs)-1].TrainLoss; !(last < first/4) {
		t.Errorf("training loss went from %.4f to %.4f", first, last)
	}
}

// TestTrainDeterministic: the same seeds give bit-identical networks; another seed does
// not.
func TestTrainDeterministic(t *testing.T) {
	d := loadDigits(t)
	run := func(seed uint64) []byte {
		net := d.build(t, "cnn:c4k3p1,pool2,fc16", 3)
		d.train1(t, net, model.TrainConfig{Seed: seed, Epochs: 3})
		b, err := net.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b, c := run(5), run(5), run(6)
	if string(a) != string(b) {
		t.Error("two runs with seed 5 differ")
	}
	if string(a) == string(c) {
		t.Error("seeds 5 and 6 gave the same network")
	}
}

// TestTrainCNNLearns: a small CNN gets well above chance on the digits in a few epochs.
func TestTrainCNNLearns(t *testing.T) {
	d := loadDigits(t)
	net := d.build(t, "cnn:c8k3p1,pool2,c16k3p1,pool2,fc32", 2)
	d.train1(t, net, model.TrainConfig{Seed: 2, Epochs: 10, LearningRate: 3e-3})
	if acc := d.accuracy(t, net, d.test); acc < 0.9 {
		t.Errorf("cnn test accuracy after 10 epochs %.4f < 0.9", acc)
	}
}

func TestTrainNoValidation(t *testing.T) {
	d := loadDigits(t)
	net := d.build(t, "mlp:16", 1)
	res, err := model.Train(context.Background(), net, d.train, model.Data{}, model.TrainConfig{Seed: 1, Epochs: 4})
	if err != nil {
		t.Fatal(err)
	}
	if res.EpochsRun != 4 || res.BestEpoch != 4 || !math.IsNaN(res.ValAccuracy) {
		t.Errorf("without validation: %+v, want 4 epochs run, best 4, NaN val accuracy", res)
	}
}

// TestTrainAfterEpochStops: an AfterEpoch error ends the run after that epoch, is
// returned wrapped, and leaves the network with the best epoch's weights so far.
func TestTrainAfterEpochStops(t *testing.T) {
	d := loadDigits(t)
	stop := errors.New("stop here")
	var seen []model.EpochStats
	net := d.build(t, "mlp:16", 1)
	res, err := model.Train(context.Background(), net, d.train, d.val, model.TrainConfig{Seed: 1, Epochs: 10,
		AfterEpoch: func(s model.EpochStats) error {
			seen = append(seen, s)
			if s.Epoch == 3 {
				return stop
			}
			return nil
		}})
	if !errors.Is(err, stop) {
		t.Fatalf("error %v, want the AfterEpoch error", err)
	}
	if len(seen) != 3 || res.EpochsRun != 3 {
		t.Fatalf("AfterEpoch saw %d epochs, %d run: want 3", len(seen), res.EpochsRun)
	}
	best := 0.0
	for _, s := range seen {
		if math.IsNaN(s.ValAccuracy) {
			t.Fatalf("epoch %d without a validation accuracy", s.Epoch)
		}
		best = max(best, s.ValAccuracy)
	}
	if _, acc, err := net.Loss(d.val); err != nil || acc != best {
		t.Errorf("stopped network scores val %.4f (%v), want the best epoch's %.4f", acc, err, best)
	}
}

func TestTrainCancelled(t *testing.T) {
	d := loadDigits(t)
	net := d.build(t, "mlp:16", 1)
	before, _ := net.MarshalBinary()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := model.Train(ctx, net, d.train, d.val, model.TrainConfig{Seed: 1})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	after, _ := net.MarshalBinary()
	if string(before) != string(after) {
		t.Error("a run cancelled before its first step changed the weights")
	}
}

func TestTrainBadInput(t *testing.T) {
	d := loadDigits(t)
	x := mat.DenseCopyOf(d.train.X)
	y := append([]int(nil), d.train.Y...)
	nanX := mat.DenseCopyOf(x)
	nanX.Set(3, 5, math.NaN())
	badY := append([]int(nil), y...)
	badY[7] = 10
	cases := []struct {
		name  string
		train model.Data
		cfg   model.TrainConfig
		want  string
		is    error
	}{
		{"empty", model.Data{}, model.TrainConfig{}, "training data: no samples", model.ErrData},
		{"label out of range", model.Data{X: x, Y: badY}, model.TrainConfig{}, "training data: row 7: label 10 out of range [0, 10)", model.ErrData},
		{"NaN", model.Data{X: nanX, Y: y}, model.TrainConfig{}, "training data: row 3, feature 5: value NaN is not finite", model.ErrData},
		{"labels short", model.Data{X: x, Y: y[:10]}, model.TrainConfig{}, "but 10 labels", model.ErrData},
		{"wrong width", model.Data{X: mat.NewDense(2, 3, nil), Y: []int{0, 1}}, model.TrainConfig{}, "3 features per sample, the network takes 64", model.ErrData},
		{"negative epochs", d.train, model.TrainConfig{Epochs: -1}, "epochs -1", nil},
		{"bad beta", d.train, model.TrainConfig{Beta1: 1}, "Adam betas", nil},
		{"NaN learning rate", d.train, model.TrainConfig{LearningRate: math.NaN()}, "learning rate NaN", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			net := d.build(t, "mlp:8", 1)
			_, err := model.Train(context.Background(), net, tc.train, d.val, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v does not match %v", err, tc.is)
			}
		})
	}
}
