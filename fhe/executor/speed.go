package executor

import (
	"sync"
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

// PBSTimesAllCores is [Keys.PBSTimes] with cores goroutines that each run one keyswitch
// + bootstrap at the same time, round after round: the median wall time of a round is
// the time of one bootstrap while cores of them share the machine, what a profile's
// [circuit.Timing] ParallelMillis predicts. The cores slow each other down (memory
// bandwidth, caches, and on a shared machine whatever runs beside them) by a share that
// changes over time, which PBSTimes on one core cannot see.
func (k *Keys) PBSTimesAllCores(cores, repeats int) []SetSpeed {
	return k.pbsTimes(max(1, cores), repeats)
}

// pbsTimes times repeats rounds (after one warm-up) of cores simultaneous keyswitch +
// bootstraps per partition and returns each set's median round time.
func (k *Keys) pbsTimes(cores, repeats int) []SetSpeed {
	// The timing workers are made once and kept: their evaluators are not built per call.
	k.timerMu.Lock()
	defer k.timerMu.Unlock()
	for len(k.timers) < cores {
		k.timers = append(k.timers, k.newWorker())
	}
	out := make([]SetSpeed, len(k.parts))
	for p, part := range k.parts {
		cts := make([]tfhe.LWECiphertext[uint64], cores)
		res := make([]tfhe.LWECiphertext[uint64], cores)
		for i := range cts {
			cts[i] = part.enc.EncryptLWEPlaintext(tfhe.LWEPlaintext[uint64]{Value: 1 << 60})
			res[i] = tfhe.NewLWECiphertext(part.tp)
		}
		lut := k.timers[0].ev[p].GenLookUpTableCustomFull(func(u int) uint64 { return uint64(u) << 61 }, 2)
		// One round: cores − 1 goroutines and this one each run a bootstrap.
		round := func() float64 {
			t0 := time.Now()
			var wg sync.WaitGroup
			for i := 1; i < cores; i++ {
				wg.Go(func() { k.timers[i].ev[p].BootstrapLUTAssign(cts[i], lut, res[i]) })
			}
			k.timers[0].ev[p].BootstrapLUTAssign(cts[0], lut, res[0])
			wg.Wait()
			return float64(time.Since(t0).Microseconds()) / 1e3
		}
		round()
		ts := make([]float64, max(1, repeats))
		for r := range ts {
			ts[r] = round()
		}
		out[p] = SetSpeed{Set: part.params, MS: calibration.Median(ts)}
	}
	return out
}
