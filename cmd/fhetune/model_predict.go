package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"gonum.org/v1/gonum/mat"

	"github.com/fhetune/fhetune/tuner"
	"github.com/fhetune/fhetune/tuner/dataset"
)

// predictOutput is what `fhetune model predict --json` prints.
type predictOutput struct {
	ModelFile string       `json:"model_file"`
	Dataset   string       `json:"dataset"`
	Split     string       `json:"split"`
	Seed      uint64       `json:"seed"`
	Samples   int          `json:"samples"`
	Accuracy  float64      `json:"accuracy"`
	Rows      []predictRow `json:"rows"`
}

// predictRow is one sample: its index in the split, label, predicted class and the
// float logits.
type predictRow struct {
	Index     int       `json:"index"`
	Label     int       `json:"label"`
	Predicted int       `json:"predicted"`
	Logits    []float64 `json:"logits"`
}

type predictFlags struct {
	modelFile, data, split, dataDir, labelColumn string
	seed                                         uint64
	standardize, asJSON                          bool
}

func newModelPredictCmd(a *app) *cobra.Command {
	var f predictFlags
	c := &cobra.Command{
		Use:   "predict --model-file FILE --dataset NAME [--split test|all] [--json]",
		Short: "Run a network's float forward pass on a data set: predicted classes, logits, accuracy",
		Long: `predict runs the float network of a model file (fhetune's own, or an ONNX file
exported by PyTorch) on a data set and prints, per row, the predicted class and the
logits, then the accuracy. --split test takes the test split that eval, verify and
studies use (seeded by --seed); --split all takes every row in file order.

Imported networks get no standardization unless they carry it (a Sub/Div before the
first layer) or --standardize fits one on the training split.`,
		Example: `  fhetune model predict --model-file net.onnx --dataset npz:data.npz --split all
  fhetune model predict --model-file mlp.fhtm --dataset digits --json`,
		Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error { return runModelPredict(a, f) },
	}
	fl := c.Flags()
	fl.StringVar(&f.modelFile, "model-file", "", "model file: fhetune's (.fhtm) or ONNX (.onnx) (required)")
	fl.StringVar(&f.data, "dataset", "", "data set: "+datasetForms+" (required)")
	fl.StringVar(&f.split, "split", "test", "rows to predict: test (the seeded test split) or all")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the split")
	fl.StringVar(&f.dataDir, "data-dir", "", "folder of the fashion-mnist IDX files (default "+dataset.DefaultFashionMNISTDir+")")
	fl.StringVar(&f.labelColumn, "label-column", "", "csv:PATH data sets: label column by header name (default: the last column)")
	fl.BoolVar(&f.standardize, "standardize", false, "fit a standardizer on the training split (for imported networks trained on standardized data)")
	fl.BoolVar(&f.asJSON, "json", false, "print one JSON document")
	return c
}

func runModelPredict(a *app, f predictFlags) error {
	switch {
	case f.modelFile == "":
		return badInput("model predict: --model-file is required")
	case f.data == "":
		return badInput("model predict: --dataset is required")
	case f.split != "test" && f.split != "all":
		return badInput("model predict: --split %q: want test or all", f.split)
	}
	net, err := loadModelFile(f.modelFile)
	if err != nil {
		return fmt.Errorf("model predict: %w", err)
	}
	opts := []dataset.Option{dataset.WithDataDir(f.dataDir)}
	if f.labelColumn != "" {
		opts = append(opts, dataset.WithLabelColumn(f.labelColumn))
	}
	ds, err := dataset.Load(f.data, opts...)
	if err != nil {
		return loadDataError(f.data, err)
	}
	if err := fitsData(net, ds); err != nil {
		return badInput("model predict: --model-file %s: %w", f.modelFile, err)
	}
	x, y := ds.X, ds.Y
	if f.split == "test" || f.standardize {
		task, err := tuner.SplitTask(ds, f.seed)
		if err != nil {
			return badInput("model predict: --dataset %s: %w", f.data, err)
		}
		if f.standardize {
			if err := tuner.Standardize(net, task); err != nil {
				if errors.Is(err, tuner.ErrStandardize) {
					return badInput("model predict: --standardize: %s: %w", f.modelFile, err)
				}
				return err
			}
		}
		if f.split == "test" {
			x, y = task.Test.X, task.Test.Y
		}
	}
	logits := net.Logits(x)
	out := predictOutput{ModelFile: f.modelFile, Dataset: ds.Name, Split: f.split, Seed: f.seed, Samples: len(y)}
	pred := net.Predict(x)
	ok := 0
	for i := range y {
		if pred[i] == y[i] {
			ok++
		}
		out.Rows = append(out.Rows, predictRow{Index: i, Label: y[i], Predicted: pred[i], Logits: mat.Row(nil, i, logits)})
	}
	if len(y) > 0 {
		out.Accuracy = float64(ok) / float64(len(y))
	}
	if f.asJSON {
		return writeJSON(a.stdout, out)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "row\tlabel\tpredicted\tlogits")
	for _, r := range out.Rows {
		l := make([]string, len(r.Logits))
		for k, v := range r.Logits {
			l[k] = strconv.FormatFloat(v, 'f', 4, 64)
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\n", r.Index, r.Label, r.Predicted, strings.Join(l, " "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(a.stdout, "accuracy %.4f on %d rows (%s, split %s)\n", out.Accuracy, out.Samples, ds.Name, f.split)
	return err
}
