// Package report turns a study's trials into plots and an HTML page that reads offline.
//
// A report is a pure function of plain data: the caller (the `fhetune report` command)
// fills a [Study] from the study store and calls [Write], which renders
//
//   - pareto: accuracy against latency_ms on a log latency axis, every complete trial in a
//     light colour, the Pareto front highlighted and joined as a step line, a reference
//     line at float accuracy, the picked trials labelled and, under them, the fronts of
//     compared studies ([Study].Compare) as dashed step lines;
//   - history: hypervolume and best accuracy against trial number;
//   - knobs: one row of panels per knob, its value against latency and against accuracy;
//   - layers: where the chosen trial spends its time, per layer (KS+PBS against levelled
//     work);
//   - index.html: a summary (with a line per compared study), the plots as inline SVG,
//     the picks, the front as a table, the chosen trial's layers, and the pruned trials
//     (PRUNED: a study's pruner stopped their training; [Trial].Pruned says why) as a
//     table, never plotted; inline CSS only, no scripts, fonts, stylesheets or links to
//     fetch.
//
// Conventions: accuracy is a fraction in [0, 1]; times are milliseconds; knob values are
// float64 under Concrete ML's names (n_w_bits, n_a_bits, pruning, sparsity,
// rounding_threshold_bits, rounding_method, p_error, global_p_error), and a knob that is
// off (no rounding) is absent from the trial's map. A categorical knob such as
// rounding_method holds the index of its value, named by [Study].KnobLabels. Output is deterministic: the same Study gives the same
// bytes. Writing is all-or-nothing (see [Write]).
//
// This package imports gonum.org/v1/plot and the standard library only; it must not import
// the study store, the tuner or the CLI, so that every plot can be tested on plain data.
package report
