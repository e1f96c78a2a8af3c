package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/fhetune/fhetune/tuner"
	"github.com/fhetune/fhetune/tuner/dataset"
	"github.com/fhetune/fhetune/tuner/model"
)

// newModelCmd groups the model subcommands; each lives in its own model_*.go file.
func newModelCmd(a *app) *cobra.Command {
	return groupCmd("model", "Train float networks and inspect model files",
		newModelTrainCmd(a),
		newModelInfoCmd(a),
		newModelPredictCmd(a),
		newModelExportCmd(a),
	)
}

// loadDataError classifies a data set loading error: unknown names, missing or
// malformed files are bad input (exit 2), anything else a failure at run time.
func loadDataError(name string, err error) error {
	for _, target := range []error{dataset.ErrUnknownDataset, dataset.ErrNotInstalled, dataset.ErrFormat,
		dataset.ErrEmpty, fs.ErrNotExist, fs.ErrPermission} {
		if errors.Is(err, target) {
			return badInput("--dataset %s: %w", name, err)
		}
	}
	return fmt.Errorf("--dataset %s: %w", name, err)
}

// loadModelFile reads a model file (fhetune's format, or ONNX for a .onnx path); a
// missing, corrupt, foreign or unsupported file is bad input.
func loadModelFile(path string) (*model.Network, error) {
	net, err := tuner.LoadNetwork(path)
	if err == nil {
		return net, nil
	}
	if tuner.BadNetworkFile(err) || errors.Is(err, fs.ErrNotExist) {
		return nil, usageError{err}
	}
	return nil, err
}

// checkOutPath refuses an output path whose folder is missing or which names a folder,
// before any long work starts.
func checkOutPath(flag, path string) error {
	if path == "" {
		return badInput("%s is required", flag)
	}
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	if err != nil {
		return badInput("%s %s: folder %s: %w", flag, path, dir, err)
	}
	if !st.IsDir() {
		return badInput("%s %s: %s is not a folder", flag, path, dir)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return badInput("%s %s: is a folder", flag, path)
	}
	return nil
}
