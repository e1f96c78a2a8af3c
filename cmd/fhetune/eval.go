package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fhetune/fhetune/fhe"
	"github.com/fhetune/fhetune/tuner"
	"github.com/fhetune/fhetune/tuner/dataset"
	"github.com/fhetune/fhetune/tuner/model"
)

// evalRecipeVersion changes whenever the default training of cached base models does,
// so that a cached model is never reused under another recipe.
const evalRecipeVersion = 1

// evalOutput is what `fhetune eval --json` prints: the trial result (whose first eight
// fields are the contract of DESIGN.md) and where the model came from.
type evalOutput struct {
	tuner.Result
	Dataset   string `json:"dataset"`
	Model     string `json:"model"`
	ModelFile string `json:"model_file"`
	Seed      uint64 `json:"seed"`
}

type evalFlags struct {
	dataset, spec, modelFile, dataDir, labelColumn string
	cost                                           string
	knobs                                          tuner.Knobs
	fineTune                                       int
	seed                                           uint64
	asJSON, standardize                            bool
}

func newEvalCmd(a *app) *cobra.Command {
	var f evalFlags
	c := &cobra.Command{
		Use:   "eval --dataset NAME [--model SPEC | --model-file FILE] [knobs]",
		Short: "Evaluate one knob setting: encrypted accuracy by exact simulation, latency by calibration",
		Long: `eval answers, for one setting of the knobs, what accuracy the encrypted model reaches and
how long one encrypted inference takes on this machine.

It takes a trained float network (--model-file, or the --model spec trained with fixed
defaults and cached under the user cache folder, fhetune/models), prunes it (--pruning,
--sparsity; then fine-tunes it a few epochs), quantizes it as Concrete ML's post-training
quantization does (--n-w-bits, --n-a-bits, --n-input-bits) or trains it
quantization-aware from there (--training qat, --qat-epochs; --n-accum-bits prunes every
accumulator to a width, --power-of-two-scaling lets the compiler round accumulators before
ReLUs for free), rounds each accumulator to
--rounding-threshold-bits, chooses the TFHE parameters of every TLU layer for --p-error or
--global-p-error (--strategy multi: one set per layer; mono: one for all; --cost ms: the
sets of least calibrated milliseconds, complexity: Concrete's choice), simulates the
integer circuit over the test split with each set's TLU errors injected, and estimates the
latency from the newest calibration profile in --db (the built-in default without one).

The data split uses --seed (default 1, as "fhetune model train"): give a model file the
seed it was trained with, so that its test set was held out.`,
		Example: `  fhetune eval --dataset digits --model mlp --n-w-bits 4 --n-a-bits 4 --pruning 0.3 \
      --rounding-threshold-bits 6 --p-error 0.01
  fhetune eval --dataset fashion-mnist --model mlp:64,64 --n-w-bits 4 --n-a-bits 4 \
      --rounding-threshold-bits 6 --global-p-error 0.01 --json
  fhetune eval --dataset digits --model-file digits.fhtm --n-w-bits 3 --n-a-bits 3 --strategy mono
  fhetune eval --dataset digits --model mlp --training qat --n-w-bits 3 --n-a-bits 3 --n-input-bits 3`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runEval(c.Context(), a, c, f) },
	}
	addEvalFlags(c, &f)
	return c
}

// addEvalFlags registers the flags of eval (and verify, which takes the same).
// datasetForms lists the --dataset forms, for flag help.
const datasetForms = "digits, breast-cancer, fashion-mnist, csv:PATH, npz:PATH or npy:X.npy,Y.npy"

func addEvalFlags(c *cobra.Command, f *evalFlags) {
	fl := c.Flags()
	fl.StringVar(&f.dataset, "dataset", "", "data set: "+datasetForms+" (required)")
	fl.StringVar(&f.spec, "model", "mlp", "network spec, trained with fixed defaults and cached: mlp ("+tuner.DefaultMLPSpec+"), cnn ("+tuner.DefaultCNNSpec+") or a full spec such as mlp:32")
	fl.StringVar(&f.modelFile, "model-file", "", "trained model file instead of --model: fhetune's (from fhetune model train) or ONNX (.onnx, exported by PyTorch)")
	fl.BoolVar(&f.standardize, "standardize", false, "fit a standardizer on the training split for a --model-file network that has none (imported networks get none otherwise)")
	fl.StringVar(&f.dataDir, "data-dir", "", "folder of the fashion-mnist IDX files (default "+dataset.DefaultFashionMNISTDir+")")
	fl.StringVar(&f.labelColumn, "label-column", "", "csv:PATH data sets: label column by header name (default: the last column)")
	fl.IntVar(&f.knobs.NWBits, "n-w-bits", 4, "n_w_bits: weight bits, 1..16")
	fl.IntVar(&f.knobs.NABits, "n-a-bits", 4, "n_a_bits: activation bits, 1..16")
	fl.IntVar(&f.knobs.NInputBits, "n-input-bits", 0, "n_input_bits: input bits, 1..16 (default n_a_bits)")
	fl.Float64Var(&f.knobs.Pruning, "pruning", 0, "share of hidden neurons and channels removed, in [0, 1)")
	fl.Float64Var(&f.knobs.Sparsity, "sparsity", 0, "share of each layer's weights set to zero, in [0, 1)")
	fl.IntVar(&f.knobs.RoundingThresholdBits, "rounding-threshold-bits", 0, "round accumulators to this many most significant bits, 2..8 as Concrete ML accepts (default: no rounding)")
	fl.StringVar(&f.knobs.RoundingMethod, "rounding-method", "exact", "rounding: exact (one bit-extraction bootstrap per removed bit) or approximate (none, off by one near boundaries)")
	fl.Float64Var(&f.knobs.PError, "p-error", 0, "error probability of each TLU, in (0, 1) (default 2^-40, Concrete ML's)")
	fl.Float64Var(&f.knobs.GlobalPError, "global-p-error", 0, "probability that any TLU of one inference errs, in (0, 1); instead of --p-error")
	fl.IntVar(&f.knobs.Cores, "cores", 0, "cores of the latency estimate (default: the cores the calibration measured)")
	fl.StringVar(&f.knobs.Strategy, "strategy", "multi", "crypto parameters: multi (one set per TLU layer) or mono (one set)")
	fl.IntVar(&f.knobs.Security, "security", fhe.DefaultSecurity, "security level in bits")
	fl.StringVar(&f.cost, "cost", string(fhe.CostMS), "what chooses the crypto sets: ms (the calibration profile's milliseconds) or complexity (Concrete's cost model)")
	fl.StringVar(&f.knobs.Training, "training", tuner.TrainingPTQ, "training: ptq (quantize the trained float network) or qat (quantization-aware training from it)")
	fl.IntVar(&f.knobs.QATEpochs, "qat-epochs", 0, fmt.Sprintf("qat_epochs: epochs of quantization-aware training, ≥ 1 (default %d; with --training qat)", tuner.DefaultQATEpochs))
	fl.IntVar(&f.knobs.NAccumBits, "n-accum-bits", 0, "n_accum_bits: prune so that every accumulator fits this many bits, 2..62 (with --training qat; default: no bound)")
	fl.BoolVar(&f.knobs.PowerOfTwoScaling, "power-of-two-scaling", false, "power_of_two_scaling: power-of-two quantizer scales, so that accumulators before ReLUs are rounded for free (with --training qat)")
	fl.IntVar(&f.fineTune, "fine-tune-epochs", tuner.DefaultFineTuneEpochs, "epochs of training after pruning (0: none)")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the split, the default model's training, fine-tuning and the error injection")
	fl.BoolVar(&f.asJSON, "json", false, "print one JSON document")
}

func (f evalFlags) check(c *cobra.Command, what string) error {
	if f.dataset == "" {
		return badInput("%s: --dataset is required ("+datasetForms+")", what)
	}
	if f.modelFile != "" && c.Flags().Changed("model") {
		return badInput("%s: --model and --model-file both given; use one", what)
	}
	if f.standardize && f.modelFile == "" {
		return badInput("%s: --standardize applies to a --model-file network (--model networks carry their standardizer)", what)
	}
	if f.fineTune < 0 {
		return badInput("%s: --fine-tune-epochs %d below 0", what, f.fineTune)
	}
	if c.Flags().Changed("qat-epochs") && f.knobs.QATEpochs < 1 {
		return badInput("%s: --qat-epochs %d below 1", what, f.knobs.QATEpochs)
	}
	if c.Flags().Changed("n-accum-bits") && f.knobs.NAccumBits == 0 {
		return badInput("%s: --n-accum-bits 0 outside 2..62", what)
	}
	if err := f.knobs.Check(); err != nil {
		return badInput("%s: %s", what, flagNames(err))
	}
	if _, err := fhe.ParseCostKind(f.cost); err != nil {
		return badInput("%s: --cost %q: want ms or complexity", what, f.cost)
	}
	return nil
}

// trialError wraps an error of evaluating knobs for the command what: bad input (exit
// 2) for bad knobs, a circuit that cannot run, or a bad task; else a failure at run
// time.
func trialError(what string, err error) error {
	if errors.Is(err, tuner.ErrKnobs) || errors.Is(err, tuner.ErrInfeasible) || errors.Is(err, tuner.ErrTask) {
		return badInput("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// flagNames rewrites knob names (n_w_bits) into flag names (--n-w-bits) in a message.
func flagNames(err error) string {
	msg := err.Error()
	for _, k := range []string{"rounding_threshold_bits", "rounding_method", "global_p_error", "n_input_bits", "n_w_bits", "n_a_bits", "p_error", "pruning", "sparsity", "strategy", "cores", "training", "qat_epochs", "n_accum_bits", "power_of_two_scaling"} {
		msg = strings.Replace(msg, " "+k+" ", " --"+strings.ReplaceAll(k, "_", "-")+" ", 1)
	}
	return msg
}

func runEval(ctx context.Context, a *app, c *cobra.Command, f evalFlags) error {
	task, env, out, err := prepareEval(ctx, a, c, f, "eval")
	if err != nil {
		return err
	}
	res, err := tuner.Evaluate(ctx, env, task, f.knobs)
	if err != nil {
		return trialError("eval", err)
	}
	out.Result = res
	if f.asJSON {
		return writeJSON(a.stdout, out)
	}
	return writeEval(a.stdout, out)
}

// prepareEval checks the flags, loads the data set and the model (training and caching
// the default one when needed) and the calibration profile: what eval and verify share.
// what names the command in errors.
func prepareEval(ctx context.Context, a *app, c *cobra.Command, f evalFlags, what string) (tuner.Task, *tuner.Env, evalOutput, error) {
	fail := func(err error) (tuner.Task, *tuner.Env, evalOutput, error) {
		return tuner.Task{}, nil, evalOutput{}, err
	}
	if err := f.check(c, what); err != nil {
		return fail(err)
	}
	opts := []dataset.Option{dataset.WithDataDir(f.dataDir)}
	if f.labelColumn != "" {
		opts = append(opts, dataset.WithLabelColumn(f.labelColumn))
	}
	ds, err := dataset.Load(f.dataset, opts...)
	if err != nil {
		return fail(loadDataError(f.dataset, err))
	}
	task, err := tuner.SplitTask(ds, f.seed)
	if err != nil {
		return fail(badInput("%s: --dataset %s: %w", what, f.dataset, err))
	}
	task.FineTuneEpochs = f.fineTune
	if f.fineTune == 0 {
		task.FineTuneEpochs = -1
	}
	out := evalOutput{Dataset: ds.Name, Seed: f.seed}
	if f.modelFile != "" {
		if task.Base, err = loadModelFile(f.modelFile); err != nil {
			return fail(fmt.Errorf("%s: %w", what, err))
		}
		if err := fitsData(task.Base, ds); err != nil {
			return fail(badInput("%s: --model-file %s: %w", what, f.modelFile, err))
		}
		if f.standardize {
			if err := tuner.Standardize(task.Base, task); err != nil {
				return fail(badInput("%s: --standardize: --model-file %s: %w", what, f.modelFile, err))
			}
		}
		out.ModelFile = f.modelFile
	} else {
		spec, err := tuner.ResolveSpec(f.spec)
		if err != nil {
			return fail(badInput("%s: --model: %w", what, err))
		}
		if task.Base, out.ModelFile, err = cachedBase(ctx, a, spec, ds, task, f.seed); err != nil {
			return fail(err)
		}
	}
	out.Model = task.Base.Spec
	cal, err := a.latestCalibration(ctx)
	if err != nil {
		return fail(fmt.Errorf("%s: calibration profile: %w", what, err))
	}
	env, err := tuner.NewProfileEnv(cal.profile, cal.source, tuner.WithCost(fhe.CostKind(f.cost)))
	if err != nil {
		return fail(fmt.Errorf("%s: %w", what, err))
	}
	return task, env, out, nil
}

// fitsData checks that a model file was made for the data set.
func fitsData(net *model.Network, ds *dataset.Dataset) error {
	if net.Dataset != "" && net.Dataset != ds.Name {
		return fmt.Errorf("trained on %s, not %s", net.Dataset, ds.Name)
	}
	if net.InSize() != ds.Features() || net.Classes != ds.Classes {
		return fmt.Errorf("takes %d features and %d classes, %s has %d and %d", net.InSize(), net.Classes, ds.Name, ds.Features(), ds.Classes)
	}
	return nil
}

// cachedBase returns the base model of spec on ds trained with tuner's default recipe,
// from the user cache folder when an earlier run trained it, or trains and caches it.
func cachedBase(ctx context.Context, a *app, spec string, ds *dataset.Dataset, task tuner.Task, seed uint64) (*model.Network, string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return nil, "", fmt.Errorf("eval: no cache folder for trained models (set XDG_CACHE_HOME or use --model-file): %w", err)
	}
	dir = filepath.Join(dir, "fhetune", "models")
	path := filepath.Join(dir, cacheName(ds, spec, seed))
	net, err := model.Load(path)
	if err == nil && fitsData(net, ds) == nil && net.Spec == spec {
		return net, path, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(a.stderr, "eval: cached model %s unreadable (%v); training it again\n", path, err)
	}
	fmt.Fprintf(a.stderr, "eval: training %s on %s (seed %d) once; cached in %s\n", spec, ds.Name, seed, path)
	cfg := tuner.DefaultBaseTraining(seed)
	cfg.OnEpoch = func(s model.EpochStats) {
		fmt.Fprintf(a.stderr, "epoch %d/%d: train loss %.4f, val accuracy %.4f\n", s.Epoch, cfg.Epochs, s.TrainLoss, s.ValAccuracy)
	}
	net, err = tuner.TrainBase(ctx, spec, ds, task, cfg)
	if errors.Is(err, tuner.ErrSpec) {
		return nil, "", badInput("eval: --model: %w", err)
	}
	if err != nil {
		return nil, "", fmt.Errorf("eval: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", fmt.Errorf("eval: cache folder: %w", err)
	}
	if err := model.Save(path, net); err != nil {
		return nil, "", fmt.Errorf("eval: cache trained model: %w", err)
	}
	return net, path, nil
}

// cacheName is the file name of a cached base model: readable, and keyed by everything
// the model depends on (data set, spec, seed, model file format, training recipe; the
// contents of a data set read from files).
func cacheName(ds *dataset.Dataset, spec string, seed uint64) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%d\x00%d\x00%d", ds.Name, spec, seed, model.FormatVersion, evalRecipeVersion)
	if strings.HasPrefix(ds.Name, "csv:") || strings.HasPrefix(ds.Name, "npz:") || strings.HasPrefix(ds.Name, "npy:") {
		r, c := ds.X.Dims()
		for i := 0; i < r; i++ {
			for _, v := range ds.X.RawRowView(i)[:c] {
				fmt.Fprintf(h, "%x,", v)
			}
			fmt.Fprintf(h, "%d;", ds.Y[i])
		}
	}
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == ',' {
				return r
			}
			return '_'
		}, s)
	}
	name := ds.Name
	if strings.HasPrefix(name, "csv:") {
		name = "csv"
	}
	return fmt.Sprintf("%s_%s_seed%d_v%d-%d_%s.fhtm", clean(name), clean(spec), seed, model.FormatVersion, evalRecipeVersion,
		hex.EncodeToString(h.Sum(nil))[:12])
}

func writeEval(w io.Writer, o evalOutput) error {
	r := o.Result
	k := r.Knobs
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "model\t%s on %s (%s), %d test samples\n", o.Model, o.Dataset, o.ModelFile, r.TestSamples)
	knobs := fmt.Sprintf("n_w_bits %d, n_a_bits %d", k.NWBits, k.NABits)
	if k.NInputBits != 0 {
		knobs += fmt.Sprintf(", n_input_bits %d", k.NInputBits)
	}
	knobs += fmt.Sprintf(", pruning %g, sparsity %g", k.Pruning, k.Sparsity)
	if k.RoundingThresholdBits != 0 {
		method := k.RoundingMethod
		if method == "" {
			method = "exact"
		}
		knobs += fmt.Sprintf(", rounding_threshold_bits %d (%s)", k.RoundingThresholdBits, method)
	}
	if strings.EqualFold(k.Training, tuner.TrainingQAT) {
		epochs := k.QATEpochs
		if epochs == 0 {
			epochs = tuner.DefaultQATEpochs
		}
		knobs += fmt.Sprintf(", training qat (%d epochs)", epochs)
		if k.NAccumBits != 0 {
			knobs += fmt.Sprintf(", n_accum_bits %d", k.NAccumBits)
		}
		if k.PowerOfTwoScaling {
			knobs += ", power_of_two_scaling"
		}
	}
	fmt.Fprintf(tw, "knobs\t%s\n", knobs)
	fmt.Fprintf(tw, "accuracy\t%.4f with FHE's TLU errors (%d predictions changed)\n", r.Accuracy, r.Changed)
	fmt.Fprintf(tw, "quantized accuracy\t%.4f without errors\n", r.QuantizedAccuracy)
	fmt.Fprintf(tw, "float accuracy\t%.4f (%d of %d weights zero)\n", r.FloatAccuracy, r.ZeroWeights, r.Weights)
	fmt.Fprintf(tw, "latency\t%.1f ms per sample on %d cores (calibration %s)\n", r.LatencyMS, r.Cores, r.Calibration)
	fmt.Fprintf(tw, "bootstraps\t%d (%d TLUs, %d rounding extractions), widest TLU %d bits, %s-parameter, sets by %s\n", r.PBSCount, r.TLUCount,
		r.PBSCount-r.TLUCount, r.MaxTLUBits, r.Strategy, r.Cost)
	if r.PErrorPerTLU > 0 {
		fmt.Fprintf(tw, "p_error\t%.3g per decoding, %.3g that one inference has any error\n", r.PErrorPerTLU, r.GlobalPError)
	} else {
		fmt.Fprintf(tw, "p_error\t%.3g that one inference has any error (global_p_error)\n", r.GlobalPError)
	}
	fmt.Fprintf(tw, "keys\tbootstrap %.1f MB, keyswitch %.1f MB\n\n", r.BootstrapKeyMB, r.KeySwitchKeyMB)
	if err := tw.Flush(); err != nil {
		return err
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "layer\tTLUs\tPBS\tacc bits\tTLU bits\trounded\tlog2 norm2\tcrypto set\tp_error\tTLU ms\trounding ms\tlevelled ms\tlayer ms\t\n")
	for _, l := range r.Layers {
		set, tlu := "-", "-"
		if l.Params != nil {
			set = l.Params.String()
		}
		if l.TLUCount > 0 {
			tlu = fmt.Sprint(l.TLUBits)
		} else {
			set += " (output)"
		}
		rounded := fmt.Sprint(l.LSBsRemoved)
		if l.Rounding == "approximate" {
			rounded += " approx"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%.2f\t%s\t%.2g\t%.1f\t%.1f\t%.2f\t%.1f\t\n", l.Name, l.TLUCount, l.PBSCount, l.AccumulatorBits, tlu,
			rounded, l.Log2Norm2, set, l.PError, l.TLUMS, l.RoundingMS, l.LevelledMS, l.LayerMS)
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t\t\t\t\t\t\t\t\t\t%.1f\t\n", r.TLUCount, r.PBSCount, r.LatencyMS)
	return tw.Flush()
}
