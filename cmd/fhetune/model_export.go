package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fhetune/fhetune/tuner"
	"github.com/fhetune/fhetune/tuner/model"
	"github.com/fhetune/fhetune/tuner/onnx"
)

type exportFlags struct {
	format, out, study string
	trial              int
}

func newModelExportCmd(a *app) *cobra.Command {
	var f exportFlags
	c := &cobra.Command{
		Use:   "export [FILE | --study NAME --trial K] --format onnx --out F.onnx",
		Short: "Write a network as ONNX: a model file, or the pruned network of a study's trial",
		Long: `export writes a float network as an ONNX model (opset 13, float32 weights) that
PyTorch's ONNX runtime and Concrete ML load: input "input" [batch, ...input shape],
output "logits" [batch, classes], the standardizer as Sub and Div nodes before the
first layer.

The network is a model file (fhetune's or ONNX), or, with --study and --trial, the
network a study's trial tuned: its base model pruned and fine-tuned with the trial's
knobs, as the trial compiled it. Compile the file with Concrete ML using the trial's
arguments from "fhetune study export-config".`,
		Example: `  fhetune model export mlp.fhtm --format onnx --out mlp.onnx
  fhetune model export --study default --trial 39 --format onnx --out trial39.onnx`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runModelExport(cmd, a, args, f) },
	}
	fl := c.Flags()
	fl.StringVar(&f.format, "format", "onnx", "output format: onnx")
	fl.StringVar(&f.out, "out", "", "output file (required)")
	fl.StringVar(&f.study, "study", "", "export the network of a study's trial (with --trial) instead of a file")
	fl.IntVar(&f.trial, "trial", -1, "trial number (with --study)")
	return c
}

func runModelExport(cmd *cobra.Command, a *app, args []string, f exportFlags) error {
	switch {
	case f.format != "onnx":
		return badInput("model export: --format %q: onnx is the supported format", f.format)
	case (len(args) == 1) == (f.study != ""):
		return badInput("model export: give a model FILE or --study NAME --trial K, one of them")
	case f.study != "" && f.trial < 0:
		return badInput("model export: --study needs --trial K (a trial number; see `fhetune study best %s`)", f.study)
	case f.study == "" && cmd.Flags().Changed("trial"):
		return badInput("model export: --trial needs --study NAME")
	}
	if err := checkOutPath("--out", f.out); err != nil {
		return fmt.Errorf("model export: %w", err)
	}
	var net *model.Network
	from := ""
	if len(args) == 1 {
		n, err := loadModelFile(args[0])
		if err != nil {
			return fmt.Errorf("model export: %w", err)
		}
		net, from = n, args[0]
	} else {
		ctx := cmd.Context()
		store, err := a.openStore(ctx, true)
		if err != nil {
			return err
		}
		defer store.Close()
		n, k, err := tuner.TrialNetwork(ctx, store, f.study, f.trial)
		switch {
		case errors.Is(err, tuner.ErrNotVerifiable):
			return badInput("model export: %w", err)
		case err != nil:
			return storeError(err)
		}
		net, from = n, fmt.Sprintf("study %s trial %d (pruning %.4g, sparsity %.4g)", f.study, f.trial, k.Pruning, k.Sparsity)
	}
	if err := onnx.Write(f.out, net); err != nil {
		return fmt.Errorf("model export: %w", err)
	}
	w, z := net.Sparsity()
	_, err := fmt.Fprintf(a.stderr, "model export: wrote %s from %s: %d layers, %d parameters, %d of %d weights zero\n",
		f.out, from, len(net.Layers), net.NumParams(), z, w)
	return err
}
