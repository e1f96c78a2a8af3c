package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/fhetune/fhetune/fhe"
	"github.com/fhetune/fhetune/fhe/calibration"
	"github.com/fhetune/fhetune/studies"
)

// calibrateOutput is what `fhetune calibrate --json` prints.
type calibrateOutput struct {
	// ID is the stored profile's id; Calibration the same as consumers report it.
	ID          int64  `json:"id"`
	Calibration string `json:"calibration"`
	Machine     string `json:"machine"`
	// Table has one row per measured set; LOO is the leave-one-out error.
	Table []calibration.Row `json:"table"`
	LOO   calibration.LOO   `json:"loo"`
	// Profile is the stored payload.
	Profile calibration.Profile `json:"profile"`
}

type calibrateFlags struct {
	maxPrecision int
	pErrorList   string
	pErrors      []float64
	repeats      int
	minRoundTime time.Duration
	quick        bool
	asJSON       bool
	out          string
	seed         uint64
	speedCheck   bool
}

// quickMaxPrecision and quickRepeats are what --quick changes (unless the flags are
// given too).
const (
	quickMaxPrecision = 5
	quickRepeats      = 5
)

// quickLog2Norm2s are the norms --quick queries: one instead of two halves the sets.
var quickLog2Norm2s = []float64{0}

func newCalibrateCmd(a *app) *cobra.Command {
	var f calibrateFlags
	c := &cobra.Command{
		Use:   "calibrate",
		Short: "Measure real TFHE bootstraps on this machine and fit the latency model",
		Long: `calibrate runs real keyswitch + programmable bootstraps with tfhe-go on a spread of
parameter sets: the optimizer's pick for every precision 1..--max-precision, p_error of
--p-errors and log2 norm2 0 and 2, plus runner-up sets of other (k, N) that separate
the terms of the model. The default p_errors reach 0.1, the top of a study's default
p_error range, so the sets a study picks at large p_error are among those fitted. It generates the keys of every set, then times the sets in
rounds on one core after a warm-up round: each round times every set once, in a new
order, for at least --repeats rounds and --min-round-time, and each set keeps its median
over the rounds (the CPU time of the working thread, which is the wall time on an idle
core), so a machine that speeds up or slows down does so for all sets alike. Keys are
held for all sets at once, or for as few groups of sets as half the free memory allows;
then three small anchor sets, timed in every group, scale later groups to the first
group's speed. Each set then runs bootstraps on every core at once, whose wall time per
bootstrap and core prices a bootstrap with all cores busy, and times a levelled dot
product. Every bootstrap is decrypted and checked.

It then fits milliseconds per call as non-negative work terms (keyswitch multiply-adds,
FFTs, key multiply-adds, per-call and per-polynomial constants), prints the table of
measured and predicted times with the leave-one-out error and the error on held-out sets
(the optimizer's picks at p_errors and norms between those of the fit, measured in the
same rounds and left out of the fit), and saves the profile in the
database. params, eval and studies use the newest profile; without one they use the
built-in default and say "calibration": "default".

--quick measures precisions up to 5 at log2 norm2 0 only (held out at log2 norm2 1),
with at least 5 rounds (under a minute on 2 idle cores).

--check measures no profile: it times the newest profile's three anchor sets again
(with calibration's runner and clock), on one core and with every core running one at
once, and prints how much slower or faster the machine runs now than when that profile
was made, about the factors by which the latencies it prices are off. Recalibrate when
they are far from 1.
Timings are only as good as the machine is quiet: the profile records the load average.`,
		Example: `  fhetune calibrate --quick
  fhetune calibrate --max-precision 8 --repeats 7 --json > calibration.json
  fhetune calibrate --check`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := f.check(c); err != nil {
				return err
			}
			if f.speedCheck {
				return runCalibrateCheck(c.Context(), a, f)
			}
			return runCalibrate(c.Context(), a, f, commandLine(c))
		},
	}
	fl := c.Flags()
	fl.IntVar(&f.maxPrecision, "max-precision", 8, "largest TLU precision to measure, 1..16")
	fl.StringVar(&f.pErrorList, "p-errors", formatFloats(calibration.DefaultPErrors), "comma-separated per-TLU p_error values the optimizer is queried at, each in (0, 1)")
	fl.IntVar(&f.repeats, "repeats", 7, "least number of rounds, each timing every set once on one core after one warm-up round")
	fl.DurationVar(&f.minRoundTime, "min-round-time", calibration.DefaultMinRoundTime, "least time the rounds take (0: --repeats rounds only)")
	fl.BoolVar(&f.quick, "quick", false, "precisions up to 5, log2 norm2 0 only, 5 rounds (unless given)")
	fl.BoolVar(&f.asJSON, "json", false, "print one JSON document")
	fl.StringVar(&f.out, "out", "", "also write the profile payload to this file (how the built-in default is made)")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the lookup tables and inputs")
	fl.BoolVar(&f.speedCheck, "check", false, "time the newest profile's anchor sets again and print the machine's speed against it; saves nothing")
	return c
}

// check applies --quick and validates the flags; every refusal is bad input (exit 2).
func (f *calibrateFlags) check(c *cobra.Command) error {
	changed := c.Flags().Changed
	if f.speedCheck {
		for _, name := range []string{"quick", "max-precision", "p-errors", "min-round-time", "out"} {
			if changed(name) {
				return badInput("calibrate: --check measures no new profile; --%s does not go with it", name)
			}
		}
	}
	if f.quick {
		if !changed("max-precision") {
			f.maxPrecision = quickMaxPrecision
		}
		if !changed("repeats") {
			f.repeats = quickRepeats
		}
	}
	f.pErrors = nil
	for _, field := range strings.Split(f.pErrorList, ",") {
		field = strings.TrimSpace(field)
		if field == "" {
			continue
		}
		e, err := strconv.ParseFloat(field, 64)
		if err != nil {
			return badInput("calibrate: --p-errors value %q is not a number", field)
		}
		if !(e > 0 && e < 1) {
			return badInput("calibrate: --p-errors value %g outside (0, 1)", e)
		}
		f.pErrors = append(f.pErrors, e)
	}
	switch {
	case f.maxPrecision < fhe.MinPrecision:
		return badInput("calibrate: --max-precision %d: empty precision range %d..%d", f.maxPrecision, fhe.MinPrecision, f.maxPrecision)
	case f.maxPrecision > fhe.MaxPrecision:
		return badInput("calibrate: --max-precision %d above %d", f.maxPrecision, fhe.MaxPrecision)
	case len(f.pErrors) == 0:
		return badInput("calibrate: --p-errors is empty")
	case f.repeats < 1 || f.repeats > 200:
		return badInput("calibrate: --repeats %d outside 1..200", f.repeats)
	case f.minRoundTime < 0 || f.minRoundTime > time.Hour:
		return badInput("calibrate: --min-round-time %v outside 0..1h", f.minRoundTime)
	}
	if f.out != "" {
		if st, err := os.Stat(filepath.Dir(f.out)); err != nil || !st.IsDir() {
			return badInput("calibrate: --out %s: no such folder", f.out)
		}
	}
	return nil
}

// commandLine rebuilds the command as typed, without the global --db (a local path).
func commandLine(c *cobra.Command) string {
	parts := []string{c.CommandPath()}
	c.Flags().Visit(func(fl *pflag.Flag) {
		if c.InheritedFlags().Lookup(fl.Name) != nil {
			return
		}
		if fl.Value.Type() == "bool" {
			parts = append(parts, "--"+fl.Name)
			return
		}
		parts = append(parts, "--"+fl.Name, fl.Value.String())
	})
	return strings.Join(parts, " ")
}

func runCalibrate(ctx context.Context, a *app, f calibrateFlags, command string) error {
	// Open (and create) the database first: a bad --db fails before minutes of work.
	store, err := a.openStore(ctx, false)
	if err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	defer store.Close()

	o, err := fhe.NewOptimizer()
	if err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	plan := calibration.PlanOptions{MaxPrecision: f.maxPrecision, PErrors: f.pErrors}
	if f.quick {
		plan.Log2Norm2s = quickLog2Norm2s
	}
	targets, err := calibration.Plan(o, plan)
	if errors.Is(err, calibration.ErrNoSets) {
		return badInput("calibrate: %w", err)
	}
	if err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	bar := newProgressBar(a.stderr, len(targets))
	minRoundTime := f.minRoundTime
	if minRoundTime == 0 {
		minRoundTime = -1 // the option's zero means the default
	}
	pr, err := calibration.Calibrate(ctx, targets, calibration.Options{
		Measure:      calibration.MeasureOptions{Repeats: f.repeats},
		MinRoundTime: minRoundTime,
		Seed:         f.seed,
		Command:      command,
		Progress:     bar.update,
	})
	bar.finish()
	if errors.Is(err, calibration.ErrRefused) || errors.Is(err, calibration.ErrNoSets) {
		return badInput("calibrate: %w", err)
	}
	if err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	payload, err := pr.Encode()
	if err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	id, err := store.SaveProfile(ctx, pr.Machine.String(), payload)
	if err != nil {
		return fmt.Errorf("calibrate: %w", storeError(err))
	}
	pr.ID = id
	if f.out != "" {
		var buf bytes.Buffer
		if err := json.Indent(&buf, payload, "", "  "); err != nil {
			return fmt.Errorf("calibrate: %w", err)
		}
		buf.WriteByte('\n')
		if err := os.WriteFile(f.out, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("calibrate: write --out: %w", err)
		}
	}
	out := calibrateOutput{ID: id, Calibration: fmt.Sprint(id), Machine: pr.Machine.String(),
		Table: pr.Table(), LOO: pr.LOO, Profile: pr}
	if f.asJSON {
		return writeJSON(a.stdout, out)
	}
	return writeCalibration(a.stdout, out, a.dbName())
}

// checkOutput is what `fhetune calibrate --check --json` prints.
type checkOutput struct {
	// Calibration is the profile checked ("default" or its id), Created when it was made.
	Calibration string    `json:"calibration"`
	Created     time.Time `json:"created"`
	// SpeedFactor is the median over the anchors of their time now over their time in
	// the profile: above 1, the machine runs slower than when calibrated.
	SpeedFactor float64 `json:"speed_factor"`
	// AllCoresSpeedFactor is the same with Workers cores running one bootstrap each
	// (omitted when the profile has no throughput run of the anchors): how much the
	// cores slow each other down changes over time as well.
	AllCoresSpeedFactor float64              `json:"all_cores_speed_factor,omitempty"`
	Workers             int                  `json:"workers,omitempty"`
	Anchors             []calibration.Anchor `json:"anchors"`
}

// runCalibrateCheck times the newest profile's anchor sets again (--repeats rounds).
func runCalibrateCheck(ctx context.Context, a *app, f calibrateFlags) error {
	ref, err := a.latestCalibration(ctx)
	if err != nil {
		return fmt.Errorf("calibrate: %w", storeError(err))
	}
	p, err := calibration.NewProbe(ctx, ref.profile, f.seed)
	if errors.Is(err, calibration.ErrNoSets) {
		return badInput("calibrate: --check: calibration %s: %w", ref.source, err)
	}
	if err != nil {
		return fmt.Errorf("calibrate: --check: %w", err)
	}
	rd, err := p.Speed(ctx, f.repeats)
	if err != nil {
		return fmt.Errorf("calibrate: --check: %w", err)
	}
	out := checkOutput{Calibration: ref.source, Created: ref.profile.Created, SpeedFactor: rd.Factor,
		AllCoresSpeedFactor: rd.AllCoresFactor, Workers: rd.Workers, Anchors: rd.Anchors}
	if f.asJSON {
		return writeJSON(a.stdout, out)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "calibration\t%s, made %s, load average %v\n", out.Calibration, out.Created.Format(time.RFC3339), ref.profile.LoadAverage)
	fmt.Fprintf(tw, "speed now\t×%.2f the profile's times on one core (median of %d anchor sets, %d rounds)\n",
		rd.Factor, len(rd.Anchors), max(1, f.repeats))
	if rd.Workers > 1 {
		fmt.Fprintf(tw, "\t×%.2f with %d cores busy at once\n", rd.AllCoresFactor, rd.Workers)
	}
	for _, an := range rd.Anchors {
		fmt.Fprintf(tw, "\t  %s: %.2f ms now, %.2f ms in the profile (×%.2f)", an.Set, an.MS, an.ProfileMS, an.MS/an.ProfileMS)
		if an.AllCoresProfileMS > 0 {
			fmt.Fprintf(tw, "; all cores %.2f ms now, %.2f ms (×%.2f)", an.AllCoresMS, an.AllCoresProfileMS, an.AllCoresMS/an.AllCoresProfileMS)
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprintf(tw, "\tlatencies the profile prices are off by about these factors, larger sets' by others: far from 1, run fhetune calibrate again\n")
	return tw.Flush()
}

// writeCalibration prints the table, the leave-one-out and held-out errors, the model
// and where it went.
func writeCalibration(w io.Writer, out calibrateOutput, dbPath string) error {
	pr := out.Profile
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "set\tchosen as\tmeasured ms\tpredicted ms\terror\tleft out\tall cores ms\twrong\t\n")
	for _, r := range out.Table {
		left := "held out"
		if !r.HeldOut {
			left = fmt.Sprintf("%+.1f%%", 100*r.LOOError)
		}
		fmt.Fprintf(tw, "%v\t%s\t%.2f\t%.2f\t%+.1f%%\t%s\t%.2f\t%d/%d\t\n", r.Set, r.Label, r.MeasuredMS,
			r.PredictedMS, 100*r.Error, left, r.ParallelMS, r.Wrong, r.Bootstraps)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	rounds := 0
	if len(out.Table) > 0 {
		rounds = out.Table[0].Rounds
	}
	fmt.Fprintf(w, "\ntimes: median of %d rounds per set", rounds)
	var scales []float64 // one per later group of sets (the first group's is 1)
	for _, m := range slices.Concat(pr.Measurements, pr.HeldOut) {
		if m.DriftScale > 0 && m.DriftScale != 1 && !slices.Contains(scales, m.DriftScale) {
			scales = append(scales, m.DriftScale)
		}
	}
	if len(scales) > 0 {
		fmt.Fprintf(w, "; keys held in groups, later groups' times scaled by %.3g (the anchor sets' drift)", scales)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "leave-one-out error: median %.1f%%, worst %.1f%% over %d sets\n",
		100*pr.LOO.Median, 100*pr.LOO.Max, len(pr.Measurements))
	if h := pr.HeldOutError; h != nil {
		fmt.Fprintf(w, "held-out error: median %.1f%%, worst %.1f%% over %d sets not fitted\n",
			100*h.Median, 100*h.Max, len(pr.HeldOut))
	}
	fmt.Fprintf(w, "model (ms per call, one core):")
	for i, t := range pr.Model.Terms {
		fmt.Fprintf(w, " %s %.4g", t, pr.Model.Coef[i])
		if i < len(pr.Model.Terms)-1 {
			fmt.Fprint(w, " +")
		}
	}
	fmt.Fprintf(w, "\nall %d cores: one bootstrap takes %.3g × single-core ms + %.3g ms per MB of keys\n",
		pr.Parallel.Workers, pr.Parallel.Scale, pr.Parallel.MSPerMB)
	fmt.Fprintf(w, "levelled dot product: %.3g ns per coefficient\n", pr.DotNSPerCoef)
	if b := pr.Between; b != nil {
		fmt.Fprintf(w, "keyswitch between keys: %.3g ns per multiply-add (median of %d pairs:", b.NSPerMAC, len(b.Measurements))
		for _, m := range b.Measurements {
			fmt.Fprintf(w, " %.2f ms", m.MS)
		}
		fmt.Fprintln(w, ")")
	}
	fmt.Fprintf(w, "bootstraps checked: %d, wrong: %d (noise model expects %.2g)\n", pr.Bootstraps, pr.Wrong, pr.ExpectedWrong)
	fmt.Fprintf(w, "machine: %s, %s, tfhe-go %s, clock %s, load average %v\n", out.Machine, pr.Go, pr.TFHEGo, pr.Clock, pr.LoadAverage)
	_, err := fmt.Fprintf(w, "saved calibration profile %d in %s\n", out.ID, dbPath)
	return err
}

// progressBar shows calibration progress on stderr: a redrawn bar on a terminal, one
// plain line per finished set otherwise.
type progressBar struct {
	w     io.Writer
	tty   bool
	total int
	drawn bool
	// keyed counts the sets whose keys were made.
	keyed int
}

func newProgressBar(w io.Writer, total int) *progressBar {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	return &progressBar{w: w, tty: tty, total: total}
}

func (b *progressBar) update(e calibration.Event) {
	elapsed := e.Elapsed.Truncate(time.Second)
	if !b.tty {
		switch {
		case e.Phase == calibration.PhaseDone && e.Measurement != nil:
			m := e.Measurement
			fmt.Fprintf(b.w, "calibrate: %d/%d %v: %.2f ms (keyswitch %.2f, bootstrap %.2f), median of %d rounds, keys %.0f ms, %d/%d wrong, %s\n",
				e.Index+1, e.Total, e.Target.Params, m.MS, m.KSMS, m.PBSMS, m.Rounds, m.KeygenMS, m.Wrong, m.Bootstraps, elapsed)
		case e.Phase == calibration.PhaseRound && e.Round == 1:
			fmt.Fprintf(b.w, "calibrate: group %d/%d: keys made, rounds started, %s\n", e.Group+1, e.Groups, elapsed)
		}
		return
	}
	const width = 24
	if e.Phase == calibration.PhaseKeygen {
		b.keyed++
	}
	filled := width * b.keyed / max(1, b.total)
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
	what := fmt.Sprintf("%v %s", e.Target.Params, e.Phase)
	if e.Phase == calibration.PhaseRound {
		what = fmt.Sprintf("group %d/%d round %d", e.Group+1, e.Groups, e.Round)
	}
	fmt.Fprintf(b.w, "\r\033[K[%s] %d/%d keyed, %s %s", bar, b.keyed, b.total, what, elapsed)
	b.drawn = true
}

// finish ends the bar's line.
func (b *progressBar) finish() {
	if b.tty && b.drawn {
		fmt.Fprintln(b.w)
	}
}

// calibrationRef is the calibration profile that consumers use and its source: the
// profile's id in the database, or "default" for the built-in one.
type calibrationRef struct {
	profile calibration.Profile
	source  string
}

// latestCalibration returns the newest profile in --db, or the built-in default when the
// database does not exist (it is not created) or holds no profile.
func (a *app) latestCalibration(ctx context.Context) (calibrationRef, error) {
	s, err := a.openStore(ctx, true)
	if errors.Is(err, studies.ErrNoDatabase) {
		pr, err := calibration.Default()
		if err != nil {
			return calibrationRef{}, err
		}
		return calibrationRef{profile: pr, source: calibration.SourceDefault}, nil
	}
	if err != nil {
		return calibrationRef{}, err
	}
	defer s.Close()
	pr, source, err := calibration.Latest(ctx, s)
	if err != nil {
		return calibrationRef{}, err
	}
	return calibrationRef{profile: pr, source: source}, nil
}

// formatFloats writes values as a --p-errors list: shortest form, comma-separated,
// without Go's zero-padded exponent (6.3e-5 rather than 6.3e-05).
func formatFloats(values []float64) string {
	fields := make([]string, len(values))
	for i, v := range values {
		s := strconv.FormatFloat(v, 'g', -1, 64)
		fields[i] = strings.Replace(strings.Replace(s, "e-0", "e-", 1), "e+0", "e+", 1)
	}
	return strings.Join(fields, ",")
}
