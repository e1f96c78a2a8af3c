package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/fhetune/fhetune/tuner/dataset"
	"github.com/fhetune/fhetune/tuner/model"
)

// modelTrainResult is what `fhetune model train --json` prints.
type modelTrainResult struct {
	Dataset       string  `json:"dataset"`
	Model         string  `json:"model"`
	Params        int     `json:"params"`
	Seed          uint64  `json:"seed"`
	EpochsRun     int     `json:"epochs_run"`
	BestEpoch     int     `json:"best_epoch"`
	EarlyStopped  bool    `json:"early_stopped"`
	TrainSeconds  float64 `json:"train_seconds"`
	TrainSamples  int     `json:"train_samples"`
	ValSamples    int     `json:"val_samples"`
	TestSamples   int     `json:"test_samples"`
	TrainAccuracy float64 `json:"train_accuracy"`
	ValAccuracy   float64 `json:"val_accuracy"`
	TestAccuracy  float64 `json:"test_accuracy"`
	Out           string  `json:"out"`
}

type modelTrainFlags struct {
	dataset, spec, dataDir, labelColumn, out string
	epochs, batchSize, patience              int
	seed                                     uint64
	lr, valFrac, testFrac                    float64
	asJSON                                   bool
}

func newModelTrainCmd(a *app) *cobra.Command {
	var f modelTrainFlags
	c := &cobra.Command{
		Use:   "train --dataset NAME --model SPEC --out FILE",
		Short: "Train a float network on a data set and save it",
		Long: `train loads a data set, splits it (seeded, stratified: 70% train, 10% validation,
20% test, or the official test set of fashion-mnist), fits the input standardizer on the
training part, trains the network by mini-batch Adam on the cross-entropy with early
stopping on validation accuracy, and saves it with its standardizer to --out (written
atomically). It prints the training time and the train, validation and test accuracy;
progress goes to stderr.

Data sets: digits, breast-cancer (both built in), fashion-mnist (from --data-dir,
default /usr/share/datasets/fashion-mnist, Debian package dataset-fashion-mnist),
csv:PATH (numeric columns, label in the last column or --label-column), npz:PATH (a
NumPy archive with features x or X and labels y) and npy:X.npy,Y.npy (two NumPy files,
features then labels).

Model specs:
  mlp:W1,W2,...          hidden widths with ReLU (e.g. mlp:64,64); "mlp:" is linear
  cnn:T1,T2,...          tokens in order, then Flatten and the output layer:
    c<O>k<K>[s<S>][p<P>]   Conv2d, O channels, K×K kernel, stride S (1), padding P (0), ReLU
    pool<K>[s<S>]          AvgPool2d, K×K windows, stride S (K)
    fc<W>                  Linear with W outputs and ReLU (after all c and pool tokens)
  e.g. cnn:c8k3p1,pool2,c16k3p1,pool2,fc64`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runModelTrain(cmd, a, f) },
	}
	fl := c.Flags()
	fl.StringVar(&f.dataset, "dataset", "", "data set: digits, breast-cancer, fashion-mnist, csv:PATH, npz:PATH or npy:X.npy,Y.npy (required)")
	fl.StringVar(&f.spec, "model", "", "network spec, e.g. mlp:64,64 or cnn:c8k3p1,pool2,fc32 (required)")
	fl.StringVar(&f.out, "out", "", "model file to write (required)")
	fl.IntVar(&f.epochs, "epochs", 100, "maximum number of epochs")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the split, the initial weights and the shuffling")
	fl.StringVar(&f.dataDir, "data-dir", "", "folder of the fashion-mnist IDX files (default "+dataset.DefaultFashionMNISTDir+")")
	fl.StringVar(&f.labelColumn, "label-column", "", "csv:PATH data sets: label column by header name (default: the last column)")
	fl.IntVar(&f.batchSize, "batch-size", 32, "samples per Adam step")
	fl.Float64Var(&f.lr, "lr", 1e-3, "Adam learning rate")
	fl.IntVar(&f.patience, "patience", 20, "stop after this many epochs without a better validation accuracy (0: never)")
	fl.Float64Var(&f.valFrac, "val-frac", dataset.DefaultValFrac, "share of the samples used for validation")
	fl.Float64Var(&f.testFrac, "test-frac", dataset.DefaultTestFrac, "share of the samples held out for testing (ignored by fashion-mnist)")
	fl.BoolVar(&f.asJSON, "json", false, "print one JSON document")
	return c
}

func (f modelTrainFlags) check() error {
	switch {
	case f.dataset == "":
		return badInput("--dataset is required (digits, breast-cancer, fashion-mnist, csv:PATH, npz:PATH or npy:X.npy,Y.npy)")
	case f.spec == "":
		return badInput("--model is required (e.g. mlp:64,64)")
	case f.epochs < 1:
		return badInput("--epochs %d: want at least 1", f.epochs)
	case f.batchSize < 1:
		return badInput("--batch-size %d: want at least 1", f.batchSize)
	case !(f.lr > 0) || math.IsInf(f.lr, 0):
		return badInput("--lr %v: want a finite value > 0", f.lr)
	case f.patience < 0:
		return badInput("--patience %d: want 0 (never stop early) or more", f.patience)
	case !(f.valFrac > 0 && f.valFrac < 1):
		return badInput("--val-frac %v: want a value in (0, 1)", f.valFrac)
	case !(f.testFrac > 0 && f.testFrac < 1):
		return badInput("--test-frac %v: want a value in (0, 1)", f.testFrac)
	case f.valFrac+f.testFrac >= 1:
		return badInput("--val-frac %v + --test-frac %v leave no training samples", f.valFrac, f.testFrac)
	}
	return checkOutPath("--out", f.out)
}

func runModelTrain(cmd *cobra.Command, a *app, f modelTrainFlags) error {
	if err := f.check(); err != nil {
		return err
	}
	spec, err := model.ParseSpec(f.spec)
	if err != nil {
		return badInput("--model: %w", err)
	}
	opts := []dataset.Option{dataset.WithDataDir(f.dataDir)}
	if f.labelColumn != "" {
		opts = append(opts, dataset.WithLabelColumn(f.labelColumn))
	}
	data, err := dataset.Load(f.dataset, opts...)
	if err != nil {
		return loadDataError(f.dataset, err)
	}
	sp, err := data.Split(dataset.SplitConfig{ValFrac: f.valFrac, TestFrac: f.testFrac, Seed: f.seed})
	if err != nil {
		if errors.Is(err, dataset.ErrSplit) || errors.Is(err, dataset.ErrEmpty) {
			return badInput("--dataset %s: %w", f.dataset, err)
		}
		return fmt.Errorf("split %s: %w", f.dataset, err)
	}
	shape := data.Shape
	if shape == nil {
		shape = []int{data.Features()}
	}
	net, err := spec.Build(shape, data.Classes, f.seed)
	if err != nil {
		return badInput("--model %s on %s: %w", f.spec, f.dataset, err)
	}
	std := model.Standardizer(dataset.FitStandardizer(sp.Train.X))
	net.Standardizer = &std
	net.Dataset = data.Name

	patience := f.patience
	if patience == 0 {
		patience = -1 // model.TrainConfig: negative disables early stopping
	}
	cfg := model.TrainConfig{
		Epochs:       f.epochs,
		BatchSize:    f.batchSize,
		LearningRate: f.lr,
		Patience:     patience,
		Seed:         f.seed,
		OnEpoch: func(s model.EpochStats) {
			mark := ""
			if s.Best {
				mark = " *"
			}
			fmt.Fprintf(a.stderr, "epoch %d/%d: train loss %.4f, val loss %.4f, val accuracy %.4f%s\n",
				s.Epoch, f.epochs, s.TrainLoss, s.ValLoss, s.ValAccuracy, mark)
		},
	}
	train := model.Data{X: sp.Train.X, Y: sp.Train.Y}
	val := model.Data{X: sp.Val.X, Y: sp.Val.Y}
	start := time.Now()
	res, err := model.Train(cmd.Context(), net, train, val, cfg)
	if err != nil {
		return fmt.Errorf("train %s on %s: %w", spec, f.dataset, err)
	}
	seconds := time.Since(start).Seconds()

	out := modelTrainResult{
		Dataset: data.Name, Model: spec.String(), Params: net.NumParams(), Seed: f.seed,
		EpochsRun: res.EpochsRun, BestEpoch: res.BestEpoch, EarlyStopped: res.Stopped, TrainSeconds: seconds,
		TrainSamples: sp.Train.Len(), ValSamples: sp.Val.Len(), TestSamples: sp.Test.Len(),
		ValAccuracy: res.ValAccuracy, Out: f.out,
	}
	if out.TrainAccuracy, err = net.Accuracy(sp.Train.X, sp.Train.Y); err != nil {
		return err
	}
	if out.TestAccuracy, err = net.Accuracy(sp.Test.X, sp.Test.Y); err != nil {
		return err
	}
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	net.Meta = map[string]string{
		"seed":           strconv.FormatUint(f.seed, 10),
		"epochs_run":     strconv.Itoa(res.EpochsRun),
		"best_epoch":     strconv.Itoa(res.BestEpoch),
		"batch_size":     strconv.Itoa(f.batchSize),
		"learning_rate":  g(f.lr),
		"val_frac":       g(f.valFrac),
		"test_frac":      g(f.testFrac),
		"train_accuracy": g(out.TrainAccuracy),
		"val_accuracy":   g(out.ValAccuracy),
		"test_accuracy":  g(out.TestAccuracy),
		"train_seconds":  g(seconds),
	}
	if err := model.Save(f.out, net); err != nil {
		return err
	}
	if f.asJSON {
		return writeJSON(a.stdout, out)
	}
	_, err = fmt.Fprintf(a.stdout, "trained %s on %s: %d parameters, %d epochs (best %d) in %.2f s\n"+
		"accuracy: train %.4f, validation %.4f, test %.4f (%d test samples)\nsaved %s\n",
		out.Model, out.Dataset, out.Params, out.EpochsRun, out.BestEpoch, seconds,
		out.TrainAccuracy, out.ValAccuracy, out.TestAccuracy, out.TestSamples, f.out)
	return err
}
