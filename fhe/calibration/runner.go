package calibration

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fhetune/fhetune/fhe"
	"github.com/sp301415/tfhe-go/tfhe"
)

// minPolyDegree is the smallest N tfhe-go's FFT handles (poly.MinDegree).
const minPolyDegree = 16

// maxLog2Norm2 bounds Target.Log2Norm2: the runner multiplies inputs by an int weight.
const maxLog2Norm2 = 40

// Target is one parameter set to measure, with the precision of its table lookups and
// the dot-product norm its inputs carry.
type Target struct {
	// Params is the set: k, N, n and the two decompositions.
	Params fhe.Params
	// Precision is p, the message bits: the lookup table has 2^p entries.
	Precision int
	// Log2Norm2 is log2 of the 2-norm of the integer weights feeding each lookup. Every
	// measured input is w·(a previous bootstrap output) + r with w = round(2^Log2Norm2),
	// so the input noise is what the atomic pattern sees.
	Log2Norm2 float64
	// LWEStdDev and GLWEStdDev are the noise standard deviations as fractions of the
	// torus for the keyswitching key (dimension n) and the GLWE key (dimension k·N).
	// Zero means the smallest secure value at fhe.DefaultSecurity bits
	// (fhe.MinStdDevTorus).
	LWEStdDev, GLWEStdDev float64
	// PError is the error probability of one lookup that fhe's noise model gives the
	// set at this precision and norm (zero if unknown); it is carried into the
	// [Measurement] so the wrong results can be judged.
	PError float64
	// Label says why the set was chosen; it is carried into the [Measurement].
	Label string
	// HeldOut marks a set that [Calibrate] measures but leaves out of the fit, to
	// report the model's error on sets it never saw.
	HeldOut bool
}

// TFHEParameters maps a target to tfhe-go parameters: standard binary keys (BlockSize
// 1), LookUpTableSize = N, keyswitch before blind rotation, MessageModulus 2^p and the
// target's standard deviations. It checks what tfhe-go would otherwise panic on and
// returns an error wrapping [ErrRefused] that names the field.
func TFHEParameters(t Target) (tfhe.ParametersLiteral[uint64], error) {
	p := t.Params
	k, logN, n := p.GLWERank(), p.LogPolyDegree(), p.LWEDimension()
	switch {
	case k < 1 || logN < 1 || n < 1 || p.BRLevel() < 1 || p.KSLevel() < 1:
		return tfhe.ParametersLiteral[uint64]{}, fmt.Errorf("%w: %v: the set is not compiled (zero fields)", ErrRefused, p)
	case p.PolyDegree() < minPolyDegree:
		return tfhe.ParametersLiteral[uint64]{}, fmt.Errorf("%w: log2_polynomial_size %d: tfhe-go needs N ≥ %d", ErrRefused, logN, minPolyDegree)
	case n > p.GLWEDimension():
		return tfhe.ParametersLiteral[uint64]{}, fmt.Errorf("%w: lwe_dimension %d larger than k·N = %d (keyswitch-first order needs n ≤ k·N)", ErrRefused, n, p.GLWEDimension())
	case t.Precision < 1 || t.Precision > logN-1:
		return tfhe.ParametersLiteral[uint64]{}, fmt.Errorf("%w: precision %d outside 1..%d for N = 2^%d", ErrRefused, t.Precision, logN-1, logN)
	case !(t.Log2Norm2 >= 0 && t.Log2Norm2 <= maxLog2Norm2):
		return tfhe.ParametersLiteral[uint64]{}, fmt.Errorf("%w: log2_norm2 %g outside 0..%d", ErrRefused, t.Log2Norm2, maxLog2Norm2)
	case t.LWEStdDev < 0 || t.GLWEStdDev < 0 || math.IsNaN(t.LWEStdDev) || math.IsNaN(t.GLWEStdDev):
		return tfhe.ParametersLiteral[uint64]{}, fmt.Errorf("%w: negative or NaN standard deviation", ErrRefused)
	}
	lweStd, glweStd := t.LWEStdDev, t.GLWEStdDev
	var err error
	if lweStd == 0 {
		if lweStd, err = fhe.MinStdDevTorus(n, fhe.DefaultSecurity); err != nil {
			return tfhe.ParametersLiteral[uint64]{}, fmt.Errorf("%w: lwe_dimension %d: %w", ErrRefused, n, err)
		}
	}
	if glweStd == 0 {
		if glweStd, err = fhe.MinStdDevTorus(p.GLWEDimension(), fhe.DefaultSecurity); err != nil {
			return tfhe.ParametersLiteral[uint64]{}, fmt.Errorf("%w: k·N = %d: %w", ErrRefused, p.GLWEDimension(), err)
		}
	}
	return tfhe.ParametersLiteral[uint64]{
		LWEDimension:    n,
		GLWERank:        k,
		PolyDegree:      p.PolyDegree(),
		LookUpTableSize: p.PolyDegree(),
		LWEStdDev:       lweStd,
		GLWEStdDev:      glweStd,
		BlockSize:       1,
		MessageModulus:  1 << t.Precision,
		BlindRotateParameters: tfhe.GadgetParametersLiteral[uint64]{
			Base: 1 << p.BRLogBase(), Level: p.BRLevel(),
		},
		KeySwitchParameters: tfhe.GadgetParametersLiteral[uint64]{
			Base: 1 << p.KSLogBase(), Level: p.KSLevel(),
		},
		BootstrapOrder: tfhe.OrderKeySwitchBlindRotate,
	}, nil
}

// compile runs tfhe-go's Compile and turns a panic into an error.
func compile(t Target, lit tfhe.ParametersLiteral[uint64]) (params tfhe.Parameters[uint64], err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v: %v", ErrRefused, t.Params, r)
		}
	}()
	return lit.Compile(), nil
}

// MeasureOptions sets how much [Runner.Measure] measures. Zero values mean the defaults.
type MeasureOptions struct {
	// Repeats is the number of timed single-core KS+PBS calls after warm-up (in
	// [Calibrate], the least number of rounds); default 7.
	Repeats int
	// Warmup is the number of untimed (but checked) calls first; default 1.
	Warmup int
	// Workers is the number of goroutines, each with its own evaluator, in the
	// throughput run; default runtime.GOMAXPROCS(0). Negative skips the throughput run.
	Workers int
	// PerWorker is the number of timed bootstraps each worker runs; default 2.
	PerWorker int
	// DotTerms is the number of terms of the timed levelled dot product; default 64.
	DotTerms int
}

func (o MeasureOptions) withDefaults() MeasureOptions {
	if o.Repeats <= 0 {
		o.Repeats = 7
	}
	if o.Warmup <= 0 {
		o.Warmup = 1
	}
	if o.Workers == 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.PerWorker <= 0 {
		o.PerWorker = 2
	}
	if o.DotTerms <= 0 {
		o.DotTerms = 64
	}
	return o
}

// Measurement is what one set measured: the payload of a profile keeps one per set.
type Measurement struct {
	// Set is the parameter set.
	Set fhe.ParamsLiteral `json:"set"`
	// Precision and Log2Norm2 describe the lookups (see [Target]).
	Precision int     `json:"precision"`
	Log2Norm2 float64 `json:"log2_norm2"`
	// Label says why the set was measured.
	Label string `json:"label,omitempty"`
	// KeygenMS is the time to generate the bootstrap and keyswitching keys with
	// KeygenCores goroutines (tfhe-go's GenEvaluationKeyParallel).
	KeygenMS    float64 `json:"keygen_ms"`
	KeygenCores int     `json:"keygen_cores"`
	// Clock names what the times below count: "thread-cpu" (CPU time of the thread
	// doing the work, which equals wall time on an idle core and leaves out the time
	// other processes held the core) or "wall" where thread CPU time is unavailable.
	Clock string `json:"clock"`
	// MS is the median time of one keyswitch + programmable bootstrap on one core;
	// KSMS and PBSMS are the medians of its two parts (keyswitch; blind rotation with
	// sample extraction). SamplesMS holds every timed call and WallMS is the median of
	// their wall-clock times.
	MS        float64   `json:"ms"`
	KSMS      float64   `json:"ks_ms"`
	PBSMS     float64   `json:"pbs_ms"`
	SamplesMS []float64 `json:"samples_ms"`
	WallMS    float64   `json:"wall_ms"`
	// Workers goroutines, one evaluator each, ran bootstraps at the same time:
	// ParallelMS is the median time of one of them (on the same clock as MS), which
	// exceeds MS when the cores compete for memory bandwidth and caches, and
	// ThroughputPerS is the bootstraps per second of wall time they reached together,
	// from which [Measurement.ParallelWallMS] gives the time the parallel model fits.
	// Both are zero when the throughput run was skipped. ParallelRefMS is the median
	// time of the same bootstraps run on one core alone right before and right after
	// them: the single-core time of the same moment, which [Build] compares the wall time
	// with (MS, a median over the whole calibration, mixes other moments' speeds).
	// Profiles made before it existed lack it.
	Workers        int     `json:"workers"`
	ParallelMS     float64 `json:"parallel_ms"`
	ParallelRefMS  float64 `json:"parallel_ref_ms,omitempty"`
	ThroughputPerS float64 `json:"throughput_per_s"`
	// DotNSPerCoef is the time of one coefficient multiply-add of a levelled dot
	// product (integer weight times an LWE ciphertext of dimension k·N), in ns.
	DotNSPerCoef float64 `json:"dot_ns_per_coef"`
	// Rounds is the number of timed calls MS is the median of; [Calibrate] makes one
	// per round, each round timing every set once.
	Rounds int `json:"rounds"`
	// HeldOut marks a set measured to test the model, not to fit it (see
	// [Target.HeldOut]).
	HeldOut bool `json:"held_out,omitempty"`
	// DriftScale, when set, is the factor [Calibrate] multiplied this set's times by
	// (and divided its throughput by) to bring them to the speed the machine ran at
	// during the first group of sets, measured on anchor sets timed in both.
	DriftScale float64 `json:"drift_scale,omitempty"`
	// Bootstraps counts every bootstrap run (warm-up, timed and throughput), each
	// decrypted and compared with the table; Wrong counts those that differed.
	Bootstraps int `json:"bootstraps"`
	Wrong      int `json:"wrong"`
	// PError is fhe's noise-model error probability of one lookup (see [Target]), and
	// EstimatedPError is tfhe-go's own estimate for these inputs.
	PError          float64 `json:"p_error"`
	EstimatedPError float64 `json:"estimated_p_error"`
}

// Runner holds the keys of one parameter set and runs real bootstraps on it.
// A Runner is not safe for concurrent use; [Runner.Measure] gives each throughput worker
// its own evaluator.
type Runner struct {
	target Target
	params tfhe.Parameters[uint64]
	enc    *tfhe.Encryptor[uint64]
	eval   *tfhe.Evaluator[uint64]
	keygen time.Duration
	cores  int
	rng    *rand.Rand
	// w is the integer weight applied to each input, round(2^Log2Norm2) ≥ 1.
	w int
	// ymax is the largest table output, chosen so that w·y + c stays below 2^p for
	// the constants c that prepare adds.
	ymax int
	// table is the lookup table, one entry per message in [0, 2^p).
	table []int
	lut   tfhe.LookUpTable[uint64]
	// scratch buffers, owned by the runner's own evaluator.
	in, out  tfhe.LWECiphertext[uint64]
	ksOut    tfhe.LWECiphertext[uint64]
	acc      tfhe.GLWECiphertext[uint64]
	messages int
	// chain is the state of the timed calls (see [Runner.step]).
	chain chain
}

// NewRunner checks and compiles the target for tfhe-go, generates fresh keys (with all
// cores) and prepares a random lookup table drawn from seed. Key generation of large sets
// takes seconds and cannot be interrupted; ctx is checked before it starts.
func NewRunner(ctx context.Context, t Target, seed uint64) (*Runner, error) {
	lit, err := TFHEParameters(t)
	if err != nil {
		return nil, err
	}
	params, err := compile(t, lit)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r := &Runner{target: t, params: params, rng: rand.New(rand.NewPCG(seed, 0x6674756e65)), cores: runtime.GOMAXPROCS(0)}
	start := time.Now()
	if err := r.genKeys(); err != nil {
		return nil, err
	}
	r.keygen = time.Since(start)

	r.messages = 1 << t.Precision
	r.w = max(1, int(math.Round(math.Exp2(t.Log2Norm2))))
	r.ymax = 0
	if r.w <= r.messages {
		r.ymax = r.messages/r.w - 1
	}
	r.table = make([]int, r.messages)
	for x := range r.table {
		r.table[x] = r.rng.IntN(r.ymax + 1)
	}
	r.lut = r.eval.GenLookUpTable(func(x int) int { return r.table[x] })
	r.in = tfhe.NewLWECiphertext(params)
	r.out = tfhe.NewLWECiphertext(params)
	r.ksOut = tfhe.NewLWECiphertextCustom[uint64](params.LWEDimension())
	r.acc = tfhe.NewGLWECiphertext(params)
	return r, nil
}

// genKeys makes the encryptor, the evaluation key and the evaluator, turning a panic
// inside tfhe-go into an error.
func (r *Runner) genKeys() (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v: key generation: %v", ErrRefused, r.target.Params, p)
		}
	}()
	r.enc = tfhe.NewEncryptor(r.params)
	evk := r.enc.GenEvaluationKeyParallel()
	PackKeys(&evk)
	r.eval = tfhe.NewEvaluator(r.params, evk)
	return nil
}

// PackKeys moves each evaluation key into one contiguous array, in the order the
// keyswitch and the blind rotation read it. tfhe-go v0.6.1 allocates every row of its
// keyswitching key separately; its keyswitch then streams memory with gaps that depend
// on how (n+1)·8 bytes falls into Go's allocator size classes, and runs 1× to 4× slower
// for neighbouring n. Contiguous keys (as Concrete stores them) give a time that
// follows the work. Anything that runs bootstraps a profile prices (the runner here,
// the executor) packs its keys, so that both run at the same speed.
func PackKeys(evk *tfhe.EvaluationKey[uint64]) {
	PackKeySwitchKey(evk.KeySwitchKey)

	brk := evk.BlindRotateKey
	size := 0
	for _, ggsw := range brk.Value {
		for _, glev := range ggsw.Value {
			for _, glwe := range glev.Value {
				for _, fp := range glwe.Value {
					size += len(fp.Coeffs)
				}
			}
		}
	}
	floats := make([]float64, size)
	off := 0
	for _, ggsw := range brk.Value {
		for _, glev := range ggsw.Value {
			for _, glwe := range glev.Value {
				for c, fp := range glwe.Value {
					end := off + copy(floats[off:], fp.Coeffs)
					glwe.Value[c].Coeffs = floats[off:end:end]
					off = end
				}
			}
		}
	}
}

// PackKeySwitchKey moves a keyswitching key's rows into one contiguous array, in the
// order the keyswitch reads them (see [PackKeys]).
func PackKeySwitchKey(ksk tfhe.LWEKeySwitchKey[uint64]) {
	size := 0
	for i := range ksk.Value {
		for _, row := range ksk.Value[i].Value {
			size += len(row.Value)
		}
	}
	words := make([]uint64, size)
	off := 0
	for i := range ksk.Value {
		for j, row := range ksk.Value[i].Value {
			end := off + copy(words[off:], row.Value)
			ksk.Value[i].Value[j].Value = words[off:end:end]
			off = end
		}
	}
}

// Table returns a copy of the runner's lookup table: entry x is the expected output of a
// bootstrap whose input message is x.
func (r *Runner) Table() []int { return slices.Clone(r.table) }

// Apply encrypts the message x (taken modulo 2^p) afresh, runs one keyswitch +
// programmable bootstrap with the runner's table and returns the decrypted result.
func (r *Runner) Apply(x int) int {
	ct := r.enc.EncryptLWE(x)
	r.bootstrap(r.eval, ct, r.ksOut, r.acc, r.out)
	return r.enc.DecryptLWE(r.out)
}

// timing is the time of one KS+PBS call: the busy time of each part (thread CPU time
// when available, wall time otherwise) and the wall time of the whole.
type timing struct {
	ks, pbs, wall time.Duration
}

// stamp is a point in wall and thread CPU time.
type stamp struct {
	wall time.Time
	cpu  time.Duration
	ok   bool
}

func now() stamp {
	cpu, ok := threadCPUTime()
	return stamp{wall: time.Now(), cpu: cpu, ok: ok}
}

// busy returns the thread CPU time from a to b, or the wall time if either lacks it.
func busy(a, b stamp) time.Duration {
	if a.ok && b.ok {
		return b.cpu - a.cpu
	}
	return b.wall.Sub(a.wall)
}

// clockName says which clock [busy] uses on this system.
func clockName() string {
	if _, ok := threadCPUTime(); ok {
		return "thread-cpu"
	}
	return "wall"
}

// bootstrap runs keyswitch then blind rotation and sample extraction (what tfhe-go's
// BootstrapLUTAssign does in keyswitch-first order) and times each part. The caller
// locks its goroutine to its OS thread so that thread CPU time is its own.
func (r *Runner) bootstrap(ev *tfhe.Evaluator[uint64], in, ksOut tfhe.LWECiphertext[uint64], acc tfhe.GLWECiphertext[uint64], out tfhe.LWECiphertext[uint64]) timing {
	t0 := now()
	ev.KeySwitchForBootstrapAssign(in, ksOut)
	t1 := now()
	ev.BlindRotateAssign(ksOut, r.lut, acc)
	acc.ToLWECiphertextAssign(0, out)
	t2 := now()
	return timing{ks: busy(t0, t1), pbs: busy(t1, t2), wall: t2.wall.Sub(t0.wall)}
}

// sample is a ciphertext whose message is known: a fresh encryption or a checked
// bootstrap output.
type sample struct {
	ct tfhe.LWECiphertext[uint64]
	y  int
}

// prepare writes w·src + c into dst with a random constant c < min(w, 2^p), which keeps
// the message below 2^p since src's message is at most ymax, and returns that message.
func (r *Runner) prepare(ev *tfhe.Evaluator[uint64], src sample, dst tfhe.LWECiphertext[uint64], rng *rand.Rand) int {
	c := rng.IntN(min(r.w, r.messages))
	ev.ScalarMulLWEAssign(src.ct, uint64(r.w), dst)
	ev.AddPlainLWEAssign(dst, ev.EncodeLWE(c), dst)
	return (r.w*src.y + c) % r.messages
}

// fresh returns a new encryption of a random table output.
func (r *Runner) fresh() sample {
	y := r.rng.IntN(r.ymax + 1)
	return sample{ct: r.enc.EncryptLWE(y), y: y}
}

// Measure measures the set alone: warm-up and timed single-core KS+PBS calls in a
// chain (each input is w times the previous output plus a constant), a throughput run
// with one evaluator per worker, and a timed levelled dot product. Every bootstrap is
// decrypted and compared with the table. ctx is checked between bootstraps; on
// cancellation Measure returns ctx's error and no measurement. [Calibrate] times many
// runners in interleaved rounds instead, with the same steps.
func (r *Runner) Measure(ctx context.Context, opts MeasureOptions) (Measurement, error) {
	o := opts.withDefaults()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for i := 0; i < o.Warmup+o.Repeats; i++ {
		if err := ctx.Err(); err != nil {
			return Measurement{}, err
		}
		r.step(i >= o.Warmup)
	}
	return r.finish(ctx, o)
}

// chain is a runner's timed calls so far: the sample the next input is made from, a few
// checked outputs for the throughput run and the dot product, and every time.
type chain struct {
	cur                  sample
	started              bool
	pool                 []sample
	calls                int
	ks, pbs, total, wall []float64
	boots, wrong         int
}

// poolSize is how many checked outputs a chain keeps.
const poolSize = 4

// step runs one KS+PBS call of the chain and checks it; timed records its time. The
// caller locks its goroutine to its OS thread (see [Runner.bootstrap]).
func (r *Runner) step(timed bool) {
	c := &r.chain
	if !c.started {
		c.cur, c.started = r.fresh(), true
	}
	x := r.prepare(r.eval, c.cur, r.in, r.rng)
	tm := r.bootstrap(r.eval, r.in, r.ksOut, r.acc, r.out)
	got := r.enc.DecryptLWE(r.out)
	c.boots++
	if got != r.table[x] {
		c.wrong++
		c.cur = r.fresh()
	} else {
		c.cur = sample{ct: r.out.Copy(), y: got}
		if len(c.pool) < poolSize {
			c.pool = append(c.pool, c.cur)
		} else {
			c.pool[c.calls%poolSize] = c.cur
		}
	}
	c.calls++
	if timed {
		c.ks = append(c.ks, ms(tm.ks))
		c.pbs = append(c.pbs, ms(tm.pbs))
		c.total = append(c.total, ms(tm.ks+tm.pbs))
		c.wall = append(c.wall, ms(tm.wall))
	}
}

// finish summarizes the chain's timed calls (medians), then runs the throughput run
// (unless o.Workers < 0) and times the levelled dot product.
func (r *Runner) finish(ctx context.Context, o MeasureOptions) (Measurement, error) {
	t, c := r.target, &r.chain
	m := Measurement{
		Set: t.Params.Literal(), Precision: t.Precision, Log2Norm2: t.Log2Norm2, Label: t.Label, PError: t.PError,
		HeldOut: t.HeldOut, KeygenMS: ms(r.keygen), KeygenCores: r.cores, EstimatedPError: r.estimatedPError(),
		Clock: clockName(), Rounds: len(c.total), SamplesMS: c.total, Bootstraps: c.boots, Wrong: c.wrong,
	}
	m.MS, m.KSMS, m.PBSMS, m.WallMS = Median(c.total), Median(c.ks), Median(c.pbs), Median(c.wall)
	pool := r.checkedPool()
	if o.Workers > 0 {
		perS, parMS, refMS, boots, wrong, err := r.throughput(ctx, o.Workers, o.PerWorker, pool)
		if err != nil {
			return Measurement{}, err
		}
		m.Workers, m.ThroughputPerS, m.ParallelMS, m.ParallelRefMS = o.Workers, perS, parMS, refMS
		m.Bootstraps += boots
		m.Wrong += wrong
	}
	if err := ctx.Err(); err != nil {
		return Measurement{}, err
	}
	m.DotNSPerCoef = r.dotProduct(o.DotTerms, pool)
	return m, nil
}

// ParallelWallMS is the throughput run's wall time per bootstrap and worker,
// Workers / ThroughputPerS in ms: what one bootstrap adds to a run that keeps every
// core busy. Zero without a throughput run.
func (m Measurement) ParallelWallMS() float64 {
	if m.Workers < 1 || !(m.ThroughputPerS > 0) {
		return 0
	}
	return 1000 * float64(m.Workers) / m.ThroughputPerS
}

// rescale multiplies the measurement's times by f (and divides its throughput by it)
// and records f as DriftScale.
func (m *Measurement) rescale(f float64) {
	m.DriftScale = f
	m.MS *= f
	m.KSMS *= f
	m.PBSMS *= f
	m.WallMS *= f
	m.ParallelMS *= f
	m.ParallelRefMS *= f
	m.DotNSPerCoef *= f
	m.ThroughputPerS /= f
	for i := range m.SamplesMS {
		m.SamplesMS[i] *= f
	}
}

// checkedPool returns the chain's checked outputs, or one fresh encryption when the
// chain has none: the inputs of a throughput run and of the dot product.
func (r *Runner) checkedPool() []sample {
	if len(r.chain.pool) == 0 {
		return []sample{r.fresh()}
	}
	return r.chain.pool
}

// throughput runs workers·per bootstraps on workers goroutines at once, each locked to
// its thread with its own shallow copy of the evaluator and taking the next input when
// it is done with one (as the executor spreads a layer's TLUs), and returns the
// bootstraps per second of wall time and the median busy time of one bootstrap. The
// inputs are prepared and one warm-up call per worker is made before the clock starts;
// every output is checked after it stops. refMS is the median busy time of per
// bootstraps run alone by the first worker (the other cores idle) right before and
// right after, on the same clock: the reference that says how much slower a bootstrap
// is with every core busy at this moment, whatever speed the machine has now.
func (r *Runner) throughput(ctx context.Context, workers, per int, pool []sample) (perS, parallelMS, refMS float64, boots, wrong int, err error) {
	type job struct {
		ev    *tfhe.Evaluator[uint64]
		warm  tfhe.LWECiphertext[uint64] // the warm-up call's input and output
		wout  tfhe.LWECiphertext[uint64]
		wwant int
		ksOut tfhe.LWECiphertext[uint64]
		acc   tfhe.GLWECiphertext[uint64]
		busy  []float64
	}
	n := workers * per
	ins := make([]tfhe.LWECiphertext[uint64], n)
	outs := make([]tfhe.LWECiphertext[uint64], n)
	want := make([]int, n)
	jobs := make([]*job, workers)
	for w := range jobs {
		j := &job{
			ev:    r.eval.ShallowCopy(),
			warm:  tfhe.NewLWECiphertext(r.params),
			wout:  tfhe.NewLWECiphertext(r.params),
			ksOut: tfhe.NewLWECiphertextCustom[uint64](r.params.LWEDimension()),
			acc:   tfhe.NewGLWECiphertext(r.params),
		}
		j.wwant = r.table[r.prepare(j.ev, pool[w%len(pool)], j.warm, r.rng)]
		jobs[w] = j
	}
	for i := range ins {
		ins[i], outs[i] = tfhe.NewLWECiphertext(r.params), tfhe.NewLWECiphertext(r.params)
		want[i] = r.table[r.prepare(r.eval, pool[i%len(pool)], ins[i], r.rng)]
	}
	var ref []float64
	solo := func() {
		j := jobs[0]
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		scratch := tfhe.NewLWECiphertext(r.params)
		for i := 0; i < per && ctx.Err() == nil; i++ {
			tm := r.bootstrap(j.ev, ins[i], j.ksOut, j.acc, scratch)
			ref = append(ref, ms(tm.ks+tm.pbs))
		}
	}
	solo()
	var ready, done sync.WaitGroup
	var cursor atomic.Int64
	start := make(chan struct{})
	ready.Add(workers)
	done.Add(workers)
	for _, j := range jobs {
		go func() {
			defer done.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			r.bootstrap(j.ev, j.warm, j.ksOut, j.acc, j.wout)
			ready.Done()
			<-start
			for i := int(cursor.Add(1) - 1); i < n && ctx.Err() == nil; i = int(cursor.Add(1) - 1) {
				tm := r.bootstrap(j.ev, ins[i], j.ksOut, j.acc, outs[i])
				j.busy = append(j.busy, ms(tm.ks+tm.pbs))
			}
		}()
	}
	ready.Wait()
	t0 := time.Now()
	close(start)
	done.Wait()
	elapsed := time.Since(t0)
	solo()
	if err := ctx.Err(); err != nil {
		return 0, 0, 0, 0, 0, err
	}
	var all []float64
	for _, j := range jobs {
		all = append(all, j.busy...)
		boots++
		if r.enc.DecryptLWE(j.wout) != j.wwant {
			wrong++
		}
	}
	for i, out := range outs {
		boots++
		if r.enc.DecryptLWE(out) != want[i] {
			wrong++
		}
	}
	return float64(n) / elapsed.Seconds(), Median(all), Median(ref), boots, wrong, nil
}

// dotProduct times a levelled dot product of terms ciphertexts with small integer
// weights and returns nanoseconds per coefficient multiply-add (median of 5 runs).
func (r *Runner) dotProduct(terms int, pool []sample) float64 {
	cts := make([]tfhe.LWECiphertext[uint64], terms)
	weights := make([]uint64, terms)
	for i := range cts {
		cts[i] = pool[i%len(pool)].ct.Copy()
		weights[i] = uint64(r.rng.IntN(15) + 1)
	}
	acc := tfhe.NewLWECiphertext(r.params)
	coefs := float64(terms * (r.params.GLWEDimension() + 1))
	runs := make([]float64, 5)
	for k := range runs {
		acc.Clear()
		t0 := now()
		for i, ct := range cts {
			r.eval.ScalarMulAddLWEAssign(ct, weights[i], acc)
		}
		runs[k] = float64(busy(t0, now()).Nanoseconds()) / coefs
	}
	return Median(runs)
}

// estimatedPError is tfhe-go's noise estimate for one lookup of a w-weighted bootstrap
// output: σ² = w²·σ_BR² + σ_KS² + σ_MS², failing when the error exceeds half a step.
func (r *Runner) estimatedPError() float64 {
	br := r.params.EstimateBlindRotateStdDev()
	ks := r.params.EstimateKeySwitchForBootstrapStdDev()
	msw := r.params.EstimateModSwitchStdDev()
	w := float64(r.w)
	sigma := math.Sqrt(w*w*br*br + ks*ks + msw*msw)
	bound := float64(r.params.Scale()) / 2
	return math.Erfc(bound / (sigma * math.Sqrt2))
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// Median returns the median of xs (the mean of the middle two for an even count), or 0
// for none; xs is left as it is. Calibration and verify both summarize timings with it.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	h := len(s) / 2
	if len(s)%2 == 1 {
		return s[h]
	}
	return (s[h-1] + s[h]) / 2
}
