package report_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/fhetune/fhetune/report"
)

// A report of a two-trial study: the command fills report.Study from the study store.
func ExampleWrite() {
	s := report.Study{
		Name:          "demo",
		FloatAccuracy: 0.97,
		Knobs:         []string{"n_w_bits", "rounding_threshold_bits", "p_error"},
		Picks:         []report.Pick{{Label: "best within 1% of float", Trial: 1}},
		Trials: []report.Trial{
			{Number: 0, State: "COMPLETE", Accuracy: 0.91, LatencyMs: 180, OnFront: true, PBSCount: 96, MaxTLUBits: 4,
				Knobs: map[string]float64{"n_w_bits": 3, "rounding_threshold_bits": 4, "p_error": 1e-3}},
			{Number: 1, State: "COMPLETE", Accuracy: 0.965, LatencyMs: 2555, OnFront: true, PBSCount: 96, MaxTLUBits: 7,
				Knobs: map[string]float64{"n_w_bits": 6, "rounding_threshold_bits": 7, "p_error": 1e-5},
				Layers: []report.Layer{
					{Name: "dense1+relu", TLUCount: 64, TLUBits: 7, Crypto: "k=1 N=2^13 n=935 br=2x15 ks=6x3", PBSMs: 110, BootstrapMs: 1760, LayerMs: 1765},
					{Name: "dense2+relu", TLUCount: 32, TLUBits: 6, Crypto: "k=1 N=2^12 n=881 br=1x22 ks=5x3", PBSMs: 49, BootstrapMs: 784, LayerMs: 790},
				}},
		},
	}
	dir, err := os.MkdirTemp("", "report-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "demo-report")
	if err := report.Write(out, s, report.Options{Formats: []string{"svg"}}); err != nil {
		fmt.Println(err)
		return
	}
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		fmt.Println(e.Name())
	}
	// Output:
	// index.html
	// knobs.svg
	// layers.svg
	// pareto.svg
}
