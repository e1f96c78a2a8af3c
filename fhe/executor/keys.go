package executor

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/fhetune/fhetune/fhe"
	"github.com/fhetune/fhetune/fhe/calibration"
	"github.com/fhetune/fhetune/fhe/circuit"
	"github.com/sp301415/tfhe-go/tfhe"
)

// partition holds the keys of one parameter set.
type partition struct {
	params fhe.Params
	// tp is keyswitch-first (its default LWE key is the big one, k·N); small is the same
	// set bootstrap-first (its default key is the small one, n), for keyswitches into it.
	tp, small tfhe.Parameters[uint64]
	enc       *tfhe.Encryptor[uint64]
	evk       tfhe.EvaluationKey[uint64]
}

// Keys holds every key of a solved circuit, secret keys included (the executor is a
// test bench: it encrypts, evaluates and decrypts). Keys are read-only once made and
// safe for concurrent use by runs.
type Keys struct {
	c       *circuit.Circuit
	sol     *circuit.Solution
	parts   []*partition
	between map[fhe.Switch]tfhe.LWEKeySwitchKey[uint64]
	// KeygenTime is how long GenKeys took; KeyMB the evaluation keys' size in MB.
	KeygenTime time.Duration
	KeyMB      float64

	mu      sync.Mutex // protects extract
	extract map[[3]int]tfhe.LookUpTable[uint64]

	timerMu sync.Mutex // protects timers, the evaluators PBSTimes and PBSTimesAllCores time
	timers  []*worker
}

// KeyMB returns the size in MB (10^6 bytes) of the evaluation keys GenKeys would make
// for sol: per partition a bootstrap key of n·(k+1)²·l_br·N float64s and a keyswitching
// key of (k·N − n)·l_ks·(n+1) words (tfhe-go's keyswitch-first keys), and per keyswitch
// between partitions k·N·l·(n+1) words.
func KeyMB(sol *circuit.Solution) float64 {
	b := 0.0
	for _, p := range sol.Sets.Partitions {
		b += calibration.KeyBytes(p)
	}
	for sw, d := range sol.Sets.Switches {
		if sw.From != sw.To {
			from, to := sol.Sets.Partitions[sw.From], sol.Sets.Partitions[sw.To]
			b += 8 * float64(from.GLWEDimension()) * float64(d.Level) * float64(to.LWEDimension()+1)
		}
	}
	return b / 1e6
}

// GenKeys makes the keys of c under sol on at most cores goroutines (0: all cores). It
// refuses before allocating when the keys would exceed maxMB (0: no bound), naming the
// largest set. The bound counts the keys being packed twice: each set's key is packed
// (calibration.PackKeys) into a copy before tfhe-go's own allocation is freed, and the
// sets whose keys are made at once (one with every core, else up to cores) may all be
// packing together.
func GenKeys(ctx context.Context, c *circuit.Circuit, sol *circuit.Solution, maxMB float64, cores int) (*Keys, error) {
	if sol == nil || len(sol.Layers) != len(c.Layers) {
		return nil, fmt.Errorf("%w: the solution is not this circuit's", ErrInput)
	}
	if cores <= 0 || cores > runtime.NumCPU() {
		cores = runtime.NumCPU()
	}
	mb := KeyMB(sol)
	// The partitions by key size, largest first: the ones packed at once in the worst case.
	parts := slices.Clone(sol.Sets.Partitions)
	sort.SliceStable(parts, func(a, b int) bool { return calibration.KeyBytes(parts[a]) > calibration.KeyBytes(parts[b]) })
	packing := 0.0
	for _, p := range parts[:min(len(parts), jobWorkers(cores))] {
		packing += calibration.KeyBytes(p) / 1e6
	}
	if maxMB > 0 && mb+packing > maxMB {
		return nil, fmt.Errorf("%w: %.0f MB of evaluation keys and %.0f MB more while they are packed (largest set %v: %.0f MB), more than the %.0f MB allowed",
			ErrKeysTooLarge, mb, packing, parts[0], calibration.KeyBytes(parts[0])/1e6, maxMB)
	}
	start := time.Now()
	k := &Keys{c: c, sol: sol, between: map[fhe.Switch]tfhe.LWEKeySwitchKey[uint64]{}, KeyMB: mb}
	for _, p := range sol.Sets.Partitions {
		part, err := newPartition(p)
		if err != nil {
			return nil, err
		}
		k.parts = append(k.parts, part)
	}
	var sws []fhe.Switch
	for sw := range sol.Sets.Switches {
		if sw.From != sw.To {
			sws = append(sws, sw)
		}
	}
	sort.Slice(sws, func(a, b int) bool { return sws[a].From*1000+sws[a].To < sws[b].From*1000+sws[b].To })
	ksks := make([]tfhe.LWEKeySwitchKey[uint64], len(sws))
	var jobs []func() error
	for _, part := range k.parts {
		jobs = append(jobs, part.genKeys(cores))
	}
	for n, sw := range sws {
		from, to, d := k.parts[sw.From], k.parts[sw.To], sol.Sets.Switches[sw]
		jobs = append(jobs, func() error {
			err := guard(func() {
				enc := tfhe.NewEncryptorWithKey(to.small, to.enc.SecretKey)
				ksks[n] = enc.GenLWEKeySwitchKey(from.enc.SecretKey.LWELargeKey,
					tfhe.GadgetParametersLiteral[uint64]{Base: 1 << d.LogBase, Level: d.Level}.Compile())
				calibration.PackKeySwitchKey(ksks[n])
			})
			if err != nil {
				return fmt.Errorf("executor: keyswitching key %v → %v: %w", from.params, to.params, err)
			}
			return nil
		})
	}
	if err := runJobs(ctx, jobs, cores); err != nil {
		return nil, err
	}
	for n, sw := range sws {
		k.between[sw] = ksks[n]
	}
	k.KeygenTime = time.Since(start)
	runtime.GC()
	return k, nil
}

// newPartition compiles a set for tfhe-go and makes its secret keys.
func newPartition(p fhe.Params) (*partition, error) {
	lit, err := calibration.TFHEParameters(calibration.Target{Params: p, Precision: 1})
	if err != nil {
		return nil, fmt.Errorf("executor: %w", err)
	}
	part := &partition{params: p}
	err = guard(func() {
		part.tp = lit.Compile()
		lit.BootstrapOrder = tfhe.OrderBlindRotateKeySwitch
		part.small = lit.Compile()
		part.enc = tfhe.NewEncryptor(part.tp)
	})
	if err != nil {
		return nil, fmt.Errorf("executor: keys of %v: %w", p, err)
	}
	return part, nil
}

// genKeys returns the job that makes the partition's evaluation key. With every core
// available it uses tfhe-go's parallel generation (which spreads over all of them);
// otherwise the key is made on one goroutine and the jobs share the cores.
func (part *partition) genKeys(cores int) func() error {
	return func() error {
		err := guard(func() {
			if cores >= runtime.NumCPU() {
				part.evk = part.enc.GenEvaluationKeyParallel()
			} else {
				part.evk = part.enc.GenEvaluationKey()
			}
			calibration.PackKeys(&part.evk)
		})
		if err != nil {
			return fmt.Errorf("executor: keys of %v: %w", part.params, err)
		}
		return nil
	}
}

// jobWorkers is how many jobs runJobs runs at once with cores (1 ≤ cores ≤ NumCPU).
func jobWorkers(cores int) int {
	if cores < runtime.NumCPU() {
		return cores
	}
	return 1
}

// runJobs runs jobs one after another with every core, or on cores goroutines when
// fewer than all cores are allowed; it stops starting jobs once ctx ends.
func runJobs(ctx context.Context, jobs []func() error, cores int) error {
	workers := jobWorkers(cores)
	next := make(chan func() error)
	errs := make(chan error, len(jobs))
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for job := range next {
				errs <- job()
			}
		}()
	}
	var err error
	for _, job := range jobs {
		if err = ctx.Err(); err != nil {
			break
		}
		next <- job
	}
	close(next)
	wg.Wait()
	close(errs)
	for e := range errs {
		if e != nil && err == nil {
			err = e
		}
	}
	return err
}

// guard runs f and turns a panic inside tfhe-go into an error.
func guard(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("tfhe-go: %v", r)
		}
	}()
	f()
	return nil
}
