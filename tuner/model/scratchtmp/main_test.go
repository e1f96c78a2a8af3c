package scratch

import (
	"context"
	"testing"
	"time"

	"github.com/fhetune/fhetune/tuner/dataset"
	"github.com/fhetune/fhetune/tuner/model"
)

func TestScratch(t *testing.T) {
	d, _ := dataset.Load("digits")
	for _, cfg := range []model.TrainConfig{
		{BatchSize: 32, Patience: 20},
		{BatchSize: 64, Patience: 20},
		{BatchSize: 32, Patience: 20, LearningRate: 3e-3},
		{BatchSize: 32, Patience: 20, WeightDecay: 1e-3},
	} {
		tot, mn := 0.0, 1.0
		var dur time.Duration
		for seed := uint64(1); seed <= 6; seed++ {
			sp, _ := d.Split(dataset.SplitConfig{Seed: seed})
			st := dataset.FitStandardizer(sp.Train.X)
			net, _ := model.Build("mlp:64,64", d.Shape, d.Classes, seed)
			s := model.Standardizer(st)
			net.Standardizer = &s
			cfg.Seed = seed
			t0 := time.Now()
			model.Train(context.Background(), net, model.Data{X: sp.Train.X, Y: sp.Train.Y}, model.Data{X: sp.Val.X, Y: sp.Val.Y}, cfg)
			dur += time.Since(t0)
			acc, _ := net.Accuracy(sp.Test.X, sp.Test.Y)
			tot += acc
			mn = min(mn, acc)
		}
		t.Logf("%+v: mean %.4f min %.4f time %v", cfg, tot/6, mn, dur/6)
	}
}
