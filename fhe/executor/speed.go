package executor

import (
	"time"

	"github.com/sp301415/tfhe-go/tfhe"

	"github.com/fhetune/fhetune/fhe"
	"github.com/fhetune/fhetune/fhe/calibration"
)

// SetSpeed is the measured time of one keyswitch + bootstrap of one of the circuit's
// sets on one goroutine (the others idle), what a calibration profile's per-set time
// predicts.
type SetSpeed struct {
	Set fhe.Params `json:"set"`
	// MS is the median of the timed calls.
	MS float64 `json:"measured_ms"`
}

// PBSTimes times repeats keyswitch + bootstraps (after one warm-up) of every
// partition's set with this circuit's keys, one goroutine, and returns each set's
// median. Verify calls it right before each encrypted inference, so that the latency
// model can predict it at the speed the machine has at that moment.
func (k *Keys) PBSTimes(repeats int) []SetSpeed {
	// One timing worker for all calls: its evaluators are built once, not per call.
	k.timerMu.Lock()
	defer k.timerMu.Unlock()
	if k.timer == nil {
		k.timer = k.newWorker()
	}
	w := k.timer
	out := make([]SetSpeed, len(k.parts))
	for p, part := range k.parts {
		ev := w.ev[p]
		ct := part.enc.EncryptLWEPlaintext(tfhe.LWEPlaintext[uint64]{Value: 1 << 60})
		res := tfhe.NewLWECiphertext(part.tp)
		lut := ev.GenLookUpTableCustomFull(func(u int) uint64 { return uint64(u) << 61 }, 2)
		ev.BootstrapLUTAssign(ct, lut, res)
		ts := make([]float64, max(1, repeats))
		for r := range ts {
			t0 := time.Now()
			ev.BootstrapLUTAssign(ct, lut, res)
			ts[r] = float64(time.Since(t0).Microseconds()) / 1e3
		}
		out[p] = SetSpeed{Set: part.params, MS: calibration.Median(ts)}
	}
	return out
}
