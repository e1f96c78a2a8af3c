package model_test

import (
	"context"
	"testing"

	"github.com/fhetune/fhetune/tuner/dataset"
	"github.com/fhetune/fhetune/tuner/model"
)

// digits holds the embedded digits set split with seed 1 (70/10/20).
type digits struct {
	train, val, test model.Data
	std              model.Standardizer
	shape            []int
	classes          int
}

func loadDigits(t testing.TB) digits {
	t.Helper()
	d, err := dataset.Load("digits")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := d.Split(dataset.SplitConfig{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return digits{
		train:   model.Data{X: sp.Train.X, Y: sp.Train.Y},
		val:     model.Data{X: sp.Val.X, Y: sp.Val.Y},
		test:    model.Data{X: sp.Test.X, Y: sp.Test.Y},
		std:     model.Standardizer(dataset.FitStandardizer(sp.Train.X)),
		shape:   d.Shape,
		classes: d.Classes,
	}
}

// build returns a network for the digits with the training standardizer set.
func (d digits) build(t testing.TB, spec string, seed uint64) *model.Network {
	t.Helper()
	net, err := model.Build(spec, d.shape, d.classes, seed)
	if err != nil {
		t.Fatal(err)
	}
	s := d.std
	net.Standardizer = &s
	net.Dataset = "digits"
	return net
}

// train trains net on the digits and returns the result.
func (d digits) train1(t testing.TB, net *model.Network, cfg model.TrainConfig) model.TrainResult {
	t.Helper()
	res, err := model.Train(context.Background(), net, d.train, d.val, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (d digits) accuracy(t testing.TB, net *model.Network, data model.Data) float64 {
	t.Helper()
	acc, err := net.Accuracy(data.X, data.Y)
	if err != nil {
		t.Fatal(err)
	}
	return acc
}
