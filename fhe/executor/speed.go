package executor

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/sp301415/tfhe-go/tfhe"

	"github.com/fhetune/fhetune/fhe"
	"github.com/fhetune/fhetune/fhe/calibration"
)

// SetSpeed is the measured time of one keyswitch + bootstrap of one of the circuit's
// sets, what a calibration profile's per-set time predicts.
type SetSpeed struct {
	Set fhe.Params `json:"set"`
	// MS is the median of the timed calls.
	MS float64 `json:"measured_ms"`
}

// PBSTimes times repeats keyswitch + bootstraps (after one warm-up) of every
// partition's set with this circuit's keys, one goroutine (the other cores idle), and
// returns each set's median. Verify calls it right before each encrypted inference, so
// that the latency model can predict it at the speed the machine has at that moment.
func (k *Keys) PBSTimes(repeats int) []SetSpeed {
	return k.pbsTimes(1, repeats)
}

// PBSTimesAllCores is [Keys.PBSTimes] with every core busy: cores goroutines take
// cores·repeats keyswitch + bootstraps of each set one after another, each the next when
// it is done with one (as [Keys.Run] spreads a layer), and the wall time over repeats is
// the time of a round of cores bootstraps at once, what a profile's [circuit.Timing]
// ParallelMillis predicts. The cores slow each other down (memory bandwidth, caches, and
// on a shared machine whatever runs beside them) by a share that changes over time,
// which PBSTimes on one core cannot see.
func (k *Keys) PBSTimesAllCores(cores, repeats int) []SetSpeed {
	return k.pbsTimes(max(1, cores), repeats)
}

// pbsTimes times, per partition, one warm-up round of cores simultaneous keyswitch +
// bootstraps and then cores·repeats of them taken by cores goroutines one after
// another, and returns each set's wall time per round of cores. With one core that is
// the median of repeats single calls.
func (k *Keys) pbsTimes(cores, repeats int) []SetSpeed {
	// The timing workers are made once and kept: their evaluators are not built per call.
	k.timerMu.Lock()
	defer k.timerMu.Unlock()
	for len(k.timers) < cores {
		k.timers = append(k.timers, k.newWorker())
	}
	repeats = max(1, repeats)
	out := make([]SetSpeed, len(k.parts))
	for p, part := range k.parts {
		cts := make([]tfhe.LWECiphertext[uint64], cores)
		res := make([]tfhe.LWECiphertext[uint64], cores)
		for i := range cts {
			cts[i] = part.enc.EncryptLWEPlaintext(tfhe.LWEPlaintext[uint64]{Value: 1 << 60})
			res[i] = tfhe.NewLWECiphertext(part.tp)
		}
		lut := k.timers[0].ev[p].GenLookUpTableCustomFull(func(u int) uint64 { return uint64(u) << 61 }, 2)
		boot := func(i int) { k.timers[i].ev[p].BootstrapLUTAssign(cts[i], lut, res[i]) }
		if cores == 1 {
			boot(0)
			ts := make([]float64, repeats)
			for r := range ts {
				t0 := time.Now()
				boot(0)
				ts[r] = ms(time.Since(t0))
			}
			out[p] = SetSpeed{Set: part.params, MS: calibration.Median(ts)}
			continue
		}
		// batch runs n bootstraps on the cores goroutines, each taking the next one.
		batch := func(n int) float64 {
			var cursor atomic.Int64
			var wg sync.WaitGroup
			t0 := time.Now()
			for i := range cores {
				wg.Go(func() {
					for cursor.Add(1) <= int64(n) {
						boot(i)
					}
				})
			}
			wg.Wait()
			return ms(time.Since(t0))
		}
		batch(cores)
		out[p] = SetSpeed{Set: part.params, MS: batch(cores*repeats) / float64(repeats)}
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }
