package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/fhetune/fhetune/studies"
	"github.com/fhetune/fhetune/tuner"
)

func TestProgressPrinter(t *testing.T) {
	first := tuner.Progress{Study: "s", Done: 0, Total: 10, BestAccuracy: math.NaN()}
	trial := tuner.Progress{Study: "s", Done: 4, Total: 10, Complete: 3, Failed: 1, BestAccuracy: 0.95, FrontSize: 2,
		Hypervolume: 1.25, ETA: 90 * time.Second,
		Last: &tuner.TrialReport{Number: 3, State: studies.Complete, Values: []float64{0.95, 120},
			Knobs: map[string]float64{"n_w_bits": 4, "sparsity": 0, "p_error": 0.001}}}
	failed := trial
	failed.Last = &tuner.TrialReport{Number: 4, State: studies.Fail, Err: "tuner: no FHE circuit"}
	pruned := failed
	pruned.Done, pruned.Pruned = 5, 1
	pruned.Last = &tuner.TrialReport{Number: 5, State: studies.Pruned, Err: "tuner: training pruned after epoch 2"}

	// Not a terminal: one line per trial, fixed knobs left out, no escape codes.
	var buf bytes.Buffer
	p := newProgressPrinter(&buf)
	p.fixed = map[string]float64{"sparsity": 0}
	p.update(first)
	p.update(trial)
	p.update(failed)
	p.update(pruned)
	p.note("stopping")
	p.finish()
	want := "trial 3 COMPLETE: 0.95 120 (n_w_bits=4 rounding_threshold_bits=off p_error=0.001) | " +
		"4/10 (1 failed)  best acc 0.9500  front 2  hv 1.250  ETA 1m30s\n" +
		"trial 4 FAIL: tuner: no FHE circuit | 4/10 (1 failed)  best acc 0.9500  front 2  hv 1.250  ETA 1m30s\n" +
		"trial 5 PRUNED: tuner: training pruned after epoch 2 | 5/10 (1 failed, 1 pruned)  best acc 0.9500  front 2  hv 1.250  ETA 1m30s\n" +
		"stopping\n"
	if buf.String() != want {
		t.Fatalf("plain progress:\n%q\nwant\n%q", buf.String(), want)
	}

	// A terminal: a bar redrawn in place, notes on their own line, a newline at the end.
	buf.Reset()
	p = &progressPrinter{w: &buf, tty: true, width: 100}
	p.update(first)
	p.update(trial)
	p.note("stopping")
	p.finish()
	out := buf.String()
	// The bar takes the width the status leaves, up to 40 columns: 34 here, 4/10 full.
	bar := "\r\033[K[" + strings.Repeat("=", 13) + strings.Repeat(" ", 21) + "] 4/10 (1 failed)  best acc 0.9500  front 2  hv 1.250  ETA 1m30s"
	if !strings.Contains(out, bar) || !strings.Contains(out, "\r\033[Kstopping\n") || !strings.HasSuffix(out, "\n") ||
		strings.Count(out, "\n") != 2 || !strings.Contains(out, "0/10  front 0  hv 0.000  ETA -") {
		t.Fatalf("terminal progress:\n%q", out)
	}
}
